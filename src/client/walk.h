/*
 * The walk of a listing's pages (docs/openapi.yaml, "Pages"): GET /tokens
 * with limit=1000, then after=NEXT until a page names no next one, each page
 * decoded as it arrives into a cache_listing that the cache then takes
 * over. A walk checks what a client relies on: the ids of a paged listing go
 * up, each page ends at its "next", and every page is of one listing (the
 * first page's ETag); a walk that met two listings starts again, up to
 * WALKS_MAX times. The lock of the client is not held here.
 */
#ifndef RR_CLIENT_WALK_H
#define RR_CLIENT_WALK_H

#include <stdbool.h>

#include "cache.h"
#include "decode.h"
#include "http.h"
#include "outcome.h"
#include "rerobots/client.h"

/* Pages of at most this many tokens, the most rerobots-tokend answers. */
#define WALK_PAGE_LIMIT 1000
/* How many walks a listing that keeps changing under them gets before the refresh fails. */
#define WALKS_MAX 3

struct walk {
	struct decode_stream stream;  /* the page being read */
	struct cache_listing listing; /* every token of the pages read so far */
	/* The last id taken, and whether every id so far came after the one before. */
	char last_id[RR_TOKEN_ID_LENGTH + 1];
	bool ascending;
	char etag[HTTP_ETAG_MAX]; /* the first page's: the whole listing's */
	bool unchanged;		  /* a 304: the cached listing still holds */
};

/* A walk whose listing is to replace the content of cache (see cache_listing_init()). */
void walk_init(struct walk *walk, const struct cache *cache);

/*
 * Reads the listing (with every text when with_texts), the first page sent
 * with If-None-Match: if_none_match unless that is NULL; 0 with walk->listing
 * finished (or walk->unchanged), or a negative errno with outcome's line.
 */
int walk_listing(struct walk *walk, struct http_pool *http, struct outcome_log *log,
		 const char *operation, bool with_texts, const char *if_none_match,
		 struct outcome *outcome);

/* Frees what the cache did not take. */
void walk_release(struct walk *walk);

#endif
