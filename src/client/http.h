/*
 * HTTP for the token API with libcurl: requests from any thread, kept-alive
 * connections, the headers every call carries, and the answer's status, body
 * and the headers the client reads (ETag, X-RateLimit-Remaining and -Reset,
 * Retry-After).
 */
#ifndef RR_CLIENT_HTTP_H
#define RR_CLIENT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

/*
 * Larger answers are refused (-EIO). A listing goes to its sink as it
 * arrives (10,000 tokens with their texts take about 8 MiB); every other
 * answer, one token or an error, is kept whole and needs a few hundred
 * bytes, so a hostile server cannot make each request hold megabytes.
 */
#define HTTP_BODY_MAX	       (64 * 1024 * 1024)
#define HTTP_BUFFERED_BODY_MAX (64 * 1024)

#define HTTP_ETAG_MAX 256

struct http_pool;

struct http_options {
	const char *origin; /* without a trailing slash */
	const char *token;  /* sent as "Authorization: Bearer TOKEN"; copied */
	long timeout_ms;    /* the default limit of one request */
	const char *cafile; /* or NULL */
	bool insecure;
};

struct http_request {
	const char *method; /* "GET" or "POST" */
	const char *path;   /* "/tokens", ... */
	const char *body;   /* JSON for a POST, or NULL */
	const char *if_none_match;
	const char *idempotency_key;
	long timeout_ms; /* 0: the pool's default */
	/* When set, a 200 answer's body goes here as it arrives, not into response->body. */
	int (*sink)(void *user, const char *data, size_t length);
	void *sink_user;
};

struct http_response {
	CURLcode result;
	long status;   /* 0 when no answer came */
	long os_errno; /* CURLINFO_OS_ERRNO */
	char *body;    /* NUL-terminated; wiped by http_response_release() */
	size_t body_length;
	size_t body_capacity;
	size_t body_limit_passed; /* the limit the body passed, or 0 */
	bool body_rejected; /* the sink refused the body: result is CURLE_OK, the rest unread */
	char etag[HTTP_ETAG_MAX]; /* "" when the answer had none */
	bool rate_limit_exhausted;
	long long rate_limit_reset; /* X-RateLimit-Reset, seconds since the Epoch, or 0 */
	long retry_after_s; /* how long the server asks to be left alone (Retry-After, or until
			       X-RateLimit-Reset when no credit is left), 0 when it did not say */
	char error_text[CURL_ERROR_SIZE]; /* curl's words for a failed transfer */
};

/* NULL (after logging why) when curl cannot be set up with these options. */
struct http_pool *http_pool_new(const struct http_options *options);
void http_pool_free(struct http_pool *pool);

/*
 * Performs one request; the outcome, success or not, is in *response. A
 * request the API answered 401 is sent once more when the token changed
 * meanwhile (see http_pool_on_rejected).
 */
void http_perform(struct http_pool *pool, const struct http_request *request,
		  struct http_response *response);

/* Sends token from the next request on; 0 or -ENOMEM (the old token then stays). */
int http_pool_set_token(struct http_pool *pool, const char *token);

/*
 * rejected(user) is called when the API answers 401 to a request sent with
 * the current token, one call at a time; it may call http_pool_set_token(),
 * and the request is then sent once more. NULL: nobody is told.
 */
void http_pool_on_rejected(struct http_pool *pool, void (*rejected)(void *user), void *user);
void http_response_release(struct http_response *response);

#endif
