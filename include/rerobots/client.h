/*
 * The rerobots token API client and its cache.
 *
 * Everything the filesystem knows about tokens comes through these calls;
 * the filesystem never builds a URL, parses JSON or decides how long an
 * answer stays true. The client speaks the v1 token API of docs/openapi.yaml
 * with libcurl (one kept-alive connection pool shared by all threads),
 * decodes it with jansson and keeps:
 *
 *  - the listing (GET /tokens, revalidated with If-None-Match after
 *    list_ttl seconds),
 *  - every token text it has read, until the token is revoked or expires.
 *
 * Every call is safe from several threads at once; identical requests in
 * flight at the same time are made once. Calls that can fail return 0 or a
 * negative errno from the one table of rerobotsfs(1) (ERRORS), and log each
 * failure once, in one line naming `operation` (the filesystem operation
 * that asked, e.g. "lookup"), the method and path, the HTTP status and the
 * server's error_message. No token text ever reaches the log.
 */
#ifndef REROBOTS_CLIENT_H
#define REROBOTS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RR_TOKEN_ID_LENGTH 64

struct rr_client;

struct rr_client_options {
	const char *origin;    /* base URL, e.g. "http://127.0.0.1:8080" */
	const char *token;     /* the token the client authenticates with; copied */
	long timeout_seconds;  /* limit for one API call, retries included; positive */
	long list_ttl_seconds; /* how long a listing is trusted; not negative */
	const char *cafile;    /* extra CA bundle, or NULL for the system store */
	bool insecure;	       /* skip TLS verification */
};

/* One active token, as the listing describes it. */
struct rr_token {
	char id[RR_TOKEN_ID_LENGTH + 1];
	int64_t created; /* seconds since the Epoch */
	int64_t expires; /* seconds since the Epoch, or 0 when it never expires */
	/* The length of its text when the client holds the text, else 0: a size without a copy. */
	size_t text_length;
};

/* NULL (after logging why) when the options cannot make a client. */
struct rr_client *rr_client_new(const struct rr_client_options *options);
void rr_client_free(struct rr_client *client);

/*
 * The one authenticated request made before mounting. Returns 0, or a
 * negative errno with a one-line explanation for a person in message
 * ("the API rejected the token: wrong authorization token", "cannot reach
 * http://…: Connection refused", or, for a server that answers a 404 or
 * something other than the API's JSON, that it does not serve the API and
 * where the API's document and conformance suite are).
 */
int rr_client_check(struct rr_client *client, char *message, size_t size);

/* True when id names the token this client authenticates with. */
bool rr_client_is_own_token(struct rr_client *client, const char *id);

/*
 * Has rr_client_collect_removed() hand out id, a token revoked with
 * rr_client_token_revoke() that no rmdir told the kernel of (the one a
 * renewal replaced), as it does a token revoked elsewhere.
 */
void rr_client_report_gone(struct rr_client *client, const char *id);

/*
 * Authenticates with token (a JWT; copied) from the next request on, and
 * takes its id as the client's own. Returns 1 when the token changed, 0
 * when it is the one in use already, or a negative errno (the token in use
 * then stays).
 */
int rr_client_set_token(struct rr_client *client, const char *token);

/* Copies the id of the token the client authenticates with into id (65 bytes). */
void rr_client_own_id(struct rr_client *client, char *id);

/*
 * When the API rejects the client's token (401), rejected(user) is called,
 * one call at a time, from the thread whose request was rejected; when it
 * gives the client another token with rr_client_set_token(), the request
 * is sent once more with that one. Not called for a token that another
 * call replaced since the request was sent: that request is sent again
 * with the new token at once.
 */
void rr_client_on_token_rejected(struct rr_client *client, void (*rejected)(void *user),
				 void *user);

/*
 * The active tokens in id order, from the cache while it is fresh: at most
 * max of them into tokens, from the first whose id is not below from (64
 * lowercase hex digits, which need not name a token; NULL for the very
 * first), and *count is how many. Taking a listing page by page this way
 * needs no copy of it. When the API does not answer with a listing (no
 * answer, a 5xx, a rate limit, a rejected token, a mangled body) and a
 * listing is cached, the cached one is answered, less what expired.
 */
int rr_client_list(struct rr_client *client, const char *operation, const char *from,
		   struct rr_token *tokens, size_t max, size_t *count);

/*
 * Refreshes the listing when it is no longer fresh, as rr_client_list()
 * does, without copying it: *version changes whenever what rr_client_list()
 * answers may have changed, or the listing was confirmed again (so that
 * entries handed out with the listing's lifetime are handed out afresh).
 */
int rr_client_list_version(struct rr_client *client, const char *operation, uint64_t *version);

/* One active token's metadata: 0, -ENOENT when it is not active, or another -errno. */
int rr_client_token_get(struct rr_client *client, const char *operation, const char *id,
			struct rr_token *token);

/*
 * The token's text, without a trailing newline: *text is a copy that the
 * caller releases with secret_free() (it is wiped first). Texts are cached
 * until the token goes; a cold read of many tokens after a listing costs
 * one bulk request (GET /tokens?with_token=1).
 */
int rr_client_token_text(struct rr_client *client, const char *operation, const char *id,
			 char **text, size_t *length);

/*
 * Makes one token valid for duration seconds and adds it to the cache. A
 * request whose response is lost is retried with the same Idempotency-Key,
 * so at most one token is made.
 */
int rr_client_token_create(struct rr_client *client, const char *operation, int64_t duration,
			   struct rr_token *token);

/* Revokes a token: -EBUSY for the client's own token (no request is made), -ENOENT for
 * an id that is not an active token. */
int rr_client_token_revoke(struct rr_client *client, const char *operation, const char *id);

/*
 * Drops tokens whose expiry is at or before now from the cache, then hands
 * out (at most max) ids of tokens that left the cache without a local
 * revoke: expired, or found gone by a listing refresh. The filesystem tells
 * the kernel about them. Returns how many ids were written.
 */
size_t rr_client_collect_removed(struct rr_client *client, int64_t now,
				 char (*ids)[RR_TOKEN_ID_LENGTH + 1], size_t max);

/*
 * Hands out (at most max) tokens that a listing refresh showed for the
 * first time: made elsewhere, not by this client. Tokens of the first
 * listing are not counted as added. The filesystem tells the kernel about
 * them. Returns how many tokens were written.
 */
size_t rr_client_collect_added(struct rr_client *client, struct rr_token *tokens, size_t max);

#endif
