/*
 * ETags of GET /tokens, remembered per user so that a matching
 * If-None-Match is answered 304 without touching the database.
 *
 * An ETag is a digest of the listing's body. A remembered one is trusted
 * while the store's generation is the one it was computed at (no token was
 * made or revoked since, here or by another process) and until the
 * earliest expiry in that listing (after which the listing is shorter).
 */
#ifndef RR_TOKEND_ETAG_H
#define RR_TOKEND_ETAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A quoted 32-digit hex string and its NUL. */
#define ETAG_SIZE 35

struct etag_cache;

int etag_cache_new(struct etag_cache **cache);

void etag_cache_free(struct etag_cache *cache);

/* Copies the ETag of the listing of user, if one is remembered and still true at now. */
bool etag_cache_lookup(struct etag_cache *cache, const char *user, bool with_token,
		       uint64_t generation, int64_t now, char *etag);

/* Remembers the ETag of a listing read at generation and true until valid_until. */
int etag_cache_store(struct etag_cache *cache, const char *user, bool with_token,
		     uint64_t generation, int64_t valid_until, const char *etag);

/* The ETag of a response body. */
int etag_compute(const char *body, size_t length, char *etag);

/* Whether an If-None-Match header value ("*", or a list of ETags, weak or not) matches etag. */
bool etag_matches(const char *if_none_match, const char *etag);

#endif
