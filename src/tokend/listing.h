/*
 * GET /tokens answered from memory: per user, the last plain listing
 * (without token texts), its body and its ETag. A matching If-None-Match
 * then gets its 304, of any representation or page, and an unchanged plain
 * listing its 200, without touching the database or building JSON.
 *
 * An ETag is a digest of the plain listing's body; the listing with token
 * texts, and every page of either, carry an ETag derived from it, so each
 * says whether the whole listing changed. What is remembered is trusted
 * while the store's generation is the one it was read at (no token was made
 * or revoked since, here or by another process) and until the earliest
 * expiry in that listing (after which the listing is shorter).
 */
#ifndef RR_TOKEND_LISTING_H
#define RR_TOKEND_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A quoted 32-digit hex string and its NUL. */
#define LISTING_ETAG_SIZE 35

struct listing_cache;

int listing_cache_new(struct listing_cache **cache);

void listing_cache_free(struct listing_cache *cache);

/*
 * Looks up the plain listing of user read at generation and still true at now.
 * Copies its ETag into etag; with body set, also a copy of its body (freed
 * with secret_free), and fails where no body was kept.
 */
bool listing_cache_lookup(struct listing_cache *cache, const char *user, uint64_t generation,
			  int64_t now, char *etag, char **body);

/* Remembers a listing read at generation and true until valid_until; body may be NULL. */
int listing_cache_store(struct listing_cache *cache, const char *user, uint64_t generation,
			int64_t valid_until, const char *etag, const char *body);

/* The ETag of a response body. */
int listing_etag_compute(const char *body, size_t length, char *etag);

/*
 * The ETag of another representation of the listing whose ETag is etag
 * ("with_token"): it changes exactly when that one does, without a digest
 * of the representation's own, larger body.
 */
int listing_etag_derive(const char *etag, const char *representation, char *derived);

/* Whether an If-None-Match value ("*", or a list of ETags, weak or not) matches etag. */
bool listing_etag_matches(const char *if_none_match, const char *etag);

#endif
