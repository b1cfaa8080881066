/* The walk of a listing's pages; see walk.h. */
#include "walk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int walk_take(void *user, const struct decoded_token *token)
{
	struct walk *walk = user;

	if (walk->last_id[0] != '\0' && strcmp(token->id, walk->last_id) <= 0)
		walk->ascending = false;
	memcpy(walk->last_id, token->id, sizeof(walk->last_id));
	return cache_listing_add(&walk->listing, token);
}

static int walk_sink(void *user, const char *data, size_t length)
{
	struct walk *walk = user;
	const char *why;

	return decode_stream_feed(&walk->stream, data, length, &why);
}

/* A walk from the first page. */
static void walk_reset(struct walk *walk)
{
	walk->last_id[0] = '\0';
	walk->ascending = true;
	walk->etag[0] = '\0';
	walk->unchanged = false;
}

/*
 * Checks a 200 page once all of it has arrived; statuses that are errors
 * are for the errno table. A page that names a next one, or follows one,
 * must be in id order and end at its next: otherwise a walk could skip
 * tokens or never end.
 */
static int walk_page_finish(struct walk *walk, const struct http_response *response, bool first,
			    size_t page_start, const char **why)
{
	int error;

	if (response->result != CURLE_OK || response->status == 304 || response->status >= 300)
		return 0;
	if (response->status != 200) {
		*why = "a success status other than 200";
		return -EIO;
	}
	error = decode_stream_finish(&walk->stream, why);
	if (error != 0)
		return error;
	if ((!first || walk->stream.next[0] != '\0') && !walk->ascending) {
		*why = "the ids of a listing's pages do not go up";
		return -EIO;
	}
	if (walk->stream.next[0] != '\0' &&
	    (walk->listing.count == page_start || strcmp(walk->stream.next, walk->last_id) != 0)) {
		*why = "\"next\" is not the page's last id";
		return -EIO;
	}
	return 0;
}

/*
 * Asks for one page (after NULL: the first) and decodes it into walk;
 * next gets its "next". 1 when the listing's ETag changed since the first
 * page and another walk may start.
 */
static int walk_read_page(struct http_pool *http, struct outcome_log *log, const char *operation,
			  bool with_texts, const char *after, const char *if_none_match,
			  bool last_walk, struct walk *walk, char *next, struct outcome *outcome)
{
	char path[sizeof("/tokens?with_token=1&limit=&after=") + 16 + RR_TOKEN_ID_LENGTH];
	struct http_request request = {
	    .method = "GET",
	    .path = path,
	    .if_none_match = after == NULL ? if_none_match : NULL,
	    .sink = walk_sink,
	    .sink_user = walk,
	};
	size_t page_start = walk->listing.count;
	struct http_response response;
	const char *why = NULL;
	int decode_error;
	int error;

	snprintf(path, sizeof(path), "/tokens?%slimit=%d%s%s", with_texts ? "with_token=1&" : "",
		 WALK_PAGE_LIMIT, after != NULL ? "&after=" : "", after != NULL ? after : "");
	decode_stream_init(&walk->stream, with_texts, walk_take, walk);
	http_perform(http, &request, &response);
	decode_error = walk_page_finish(walk, &response, after == NULL, page_start, &why);
	memcpy(next, walk->stream.next, RR_TOKEN_ID_LENGTH + 1);
	decode_stream_release(&walk->stream);

	error = outcome_from_response(log, outcome, operation, &request, &response);
	/* Not one token is missing but the listing itself: the API is not (or no longer) there. */
	if (error == -ENOENT)
		error =
		    outcome_bad_body(outcome, operation, &request, -EIO, "no listing at this URL");
	if (error == 0 && decode_error != 0)
		error = outcome_bad_body(outcome, operation, &request, decode_error,
					 why ? why : strerror(-decode_error));
	if (error == 0 && response.status == 304 && request.if_none_match == NULL)
		error = outcome_bad_body(outcome, operation, &request, -EIO,
					 "304 to a request without If-None-Match");
	if (error == 0 && response.status == 304) {
		walk->unchanged = true;
	} else if (error == 0 && after == NULL) {
		memcpy(walk->etag, response.etag, sizeof(walk->etag));
	} else if (error == 0 && strcmp(walk->etag, response.etag) != 0) {
		/* The pages so far and this one are of two listings. */
		error = last_walk ? outcome_bad_body(outcome, operation, &request, -EIO,
						     "the listing changed on every walk of "
						     "its pages")
				  : 1;
	}
	http_response_release(&response);
	return error;
}

/*
 * Reads the listing page by page, from the first page to the one without
 * "next", into walk; a walk whose pages turn out to be of more than one
 * listing starts again. A first page without "next" is the whole listing,
 * as a server that does not page answers. Lock not held.
 */
int walk_listing(struct walk *walk, struct http_pool *http, struct outcome_log *log,
		 const char *operation, bool with_texts, const char *if_none_match,
		 struct outcome *outcome)
{
	char after[RR_TOKEN_ID_LENGTH + 1];
	char next[RR_TOKEN_ID_LENGTH + 1];
	int error = 1;

	for (int walks = 1; error == 1; walks++) {
		if (walks > 1) {
			cache_listing_clear(&walk->listing);
			walk_reset(walk);
		}
		error = walk_read_page(http, log, operation, with_texts, NULL, if_none_match,
				       walks == WALKS_MAX, walk, next, outcome);
		while (error == 0 && !walk->unchanged && next[0] != '\0') {
			memcpy(after, next, sizeof(after));
			error = walk_read_page(http, log, operation, with_texts, after, NULL,
					       walks == WALKS_MAX, walk, next, outcome);
		}
	}
	if (error == 0 && !walk->unchanged) {
		struct http_request request = {
		    .method = "GET",
		    .path = with_texts ? "/tokens?with_token=1" : "/tokens",
		};
		const char *why = NULL;

		error = cache_listing_finish(&walk->listing, &why);
		if (error != 0)
			outcome_bad_body(outcome, operation, &request, error, why);
	}
	return error;
}

void walk_init(struct walk *walk, const struct cache *cache)
{
	cache_listing_init(&walk->listing, cache);
	walk_reset(walk);
}

void walk_release(struct walk *walk)
{
	cache_listing_release(&walk->listing);
}
