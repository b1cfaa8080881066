/*
 * What the client knows about tokens: the last listing, sorted by id for
 * O(log n) lookups, each entry with its text once read, the queue of ids
 * that left without a local revoke and the queue of tokens that a listing
 * showed first. Not locked: the client holds its mutex around every call.
 *
 * A token comes in as the decoder's struct decoded_token (decode.h) and
 * goes out as the API's struct rr_token; struct cache_entry is only how the
 * cache keeps one. The fields below are the cache's own: the client goes
 * through the functions, which decide what is fresh.
 */
#ifndef RR_CLIENT_CACHE_H
#define RR_CLIENT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "rerobots/client.h"
#include "token_id.h"

#define CACHE_ETAG_MAX 256

/*
 * A decoded_token as the cache keeps it: the id as its 32 bytes, the text
 * packed. 72 bytes: 10,000 of them are the cache's largest block after the
 * texts.
 */
struct cache_entry {
	unsigned char id[TOKEN_ID_BYTES];
	int64_t created;
	int64_t expires;     /* 0: never */
	int64_t verified_ms; /* monotonic time the API last confirmed the token */
	char *text;	     /* the text packed (see jwtpack.h); NULL until read */
	uint32_t text_length;
};

/* A local create or revoke that a listing fetched at the same time may not show. */
struct cache_change {
	char id[RR_TOKEN_ID_LENGTH + 1];
	bool created;
};

struct cache {
	struct cache_entry *entries; /* sorted by id */
	size_t count;
	size_t capacity;
	bool listing_valid; /* the entries are a whole listing, not single tokens */
	int64_t listing_ms; /* monotonic time the API last confirmed the listing */
	int64_t ttl_ms;	    /* how long a confirmation holds (list_ttl) */
	/* Until then (monotonic ms) everything cached holds: the server asked for quiet. */
	int64_t quiet_until_ms;
	char etag[CACHE_ETAG_MAX];
	int64_t next_expiry; /* the earliest expires of an entry, INT64_MAX when none */
	uint64_t version;    /* bumped when the entries change or the listing is confirmed */
	char (*removed)[RR_TOKEN_ID_LENGTH + 1];
	size_t removed_count;
	size_t removed_capacity;
	struct rr_token *added; /* first shown by a listing that replaced another */
	size_t added_count;
	size_t added_capacity;
};

/* An empty cache whose confirmations hold for ttl_ms. */
void cache_init(struct cache *cache, int64_t ttl_ms);
/* Frees everything, texts wiped. */
void cache_destroy(struct cache *cache);

/*
 * Freshness. A listing confirmed by the API (a 200 or a 304) holds for
 * ttl_ms, and so does each token read alone; while the server asked for
 * quiet (Retry-After), everything cached holds. The client asks the API
 * again only for what no longer holds. Times are monotonic ms.
 */

/* True when the entries are a whole listing (a listing was read once), fresh or not. */
bool cache_has_listing(const struct cache *cache);
/* True when there is a listing and it holds at now_ms. */
bool cache_is_fresh(const struct cache *cache, int64_t now_ms);
/*
 * The listing holds again from now_ms: the API answered 304, or could not
 * answer and the cached listing stands in for another ttl_ms.
 */
void cache_confirm(struct cache *cache, int64_t now_ms);
/* Everything cached holds until until_ms, if that is later than an earlier quiet. */
void cache_quiet_until(struct cache *cache, int64_t until_ms);

/*
 * The listing's ETag, to revalidate it with If-None-Match: copied into etag
 * (CACHE_ETAG_MAX bytes); false when there is no listing or no ETag.
 */
bool cache_etag(const struct cache *cache, char *etag);
/* The ETag of the listing just taken; "" (or one too long to keep) forgets it. */
void cache_set_etag(struct cache *cache, const char *etag);

/* Moves whenever a token comes, goes or changes, or the listing is confirmed. */
uint64_t cache_version(const struct cache *cache);

enum cache_state {
	CACHE_ABSENT, /* not cached */
	CACHE_STALE,  /* cached, but its confirmation no longer holds */
	CACHE_FRESH,
};

/* Whether id is cached and holds at now_ms; when cached, *token gets it (token may be NULL). */
enum cache_state cache_find(const struct cache *cache, const char *id, int64_t now_ms,
			    struct rr_token *token);

/* Whether id is cached, fresh or not. */
bool cache_contains(const struct cache *cache, const char *id);

/*
 * A copy of id's text, to secret_free(): 0, -ENOENT when id is not cached,
 * -ENODATA when it is but its text was not read yet, or -ENOMEM.
 */
int cache_copy_text(const struct cache *cache, const char *id, char **text, size_t *length);

/* Adds or updates one token (and its text, when given); 0, -EIO for a bad id, or -ENOMEM. */
int cache_put(struct cache *cache, const struct decoded_token *token, int64_t now_ms);

/* Drops one token; with report it is queued for cache_take_removed(). */
void cache_remove(struct cache *cache, const char *id, bool report);

/* Queues id for cache_take_removed(): a token that was dropped without report. */
void cache_report_gone(struct cache *cache, const char *id);

/* A listing as it is read: entries in arrival order, each text in its own secret buffer. */
struct cache_listing {
	struct cache_entry *entries;
	size_t count;
	size_t capacity;
	size_t expected; /* how many entries to make room for at first */
};

/* A listing to replace the content of cache, which it is expected to be as long as. */
void cache_listing_init(struct cache_listing *listing, const struct cache *cache);
/* Copies one decoded token (and its text, if any); 0, -EIO for a bad id, or -ENOMEM. */
int cache_listing_add(struct cache_listing *listing, const struct decoded_token *token);
/* Sorts by id and gives back unused room; -EIO with *why set when a token is listed twice. */
int cache_listing_finish(struct cache_listing *listing, const char **why);
/* Frees what cache_replace() did not take, texts wiped. */
void cache_listing_release(struct cache_listing *listing);
/*
 * Drops every entry read so far, texts wiped, for a listing read again from
 * its start; it keeps the length it expects.
 */
void cache_listing_clear(struct cache_listing *listing);

/*
 * Makes a finished listing the cache's content, taking its entries over.
 * Known texts are kept; tokens that are gone are queued as removed, and,
 * unless it is the first listing, tokens the cache did not hold as added. changes
 * made locally while the listing was fetched win over it. *changed tells
 * whether any token came, went or changed. 0, or -ENOMEM with the cache and
 * the listing unchanged.
 */
int cache_replace(struct cache *cache, struct cache_listing *listing,
		  const struct cache_change *changes, size_t change_count, int64_t now_ms,
		  bool *changed);

/* How many entries have no text yet. */
size_t cache_missing_texts(const struct cache *cache);

/* Drops tokens whose expiry is at or before now (seconds since the Epoch), queued as removed. */
void cache_expire(struct cache *cache, int64_t now);

/*
 * Copies at most max entries as struct rr_token, in id order, from the first
 * whose id is not below from (NULL: the first); returns how many.
 */
size_t cache_copy_tokens(const struct cache *cache, const unsigned char *from,
			 struct rr_token *tokens, size_t max);

/* Moves at most max queued ids into ids; returns how many. */
size_t cache_take_removed(struct cache *cache, char (*ids)[RR_TOKEN_ID_LENGTH + 1], size_t max);

/* Moves at most max queued added tokens into tokens; returns how many. */
size_t cache_take_added(struct cache *cache, struct rr_token *tokens, size_t max);

#endif
