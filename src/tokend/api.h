/*
 * The token API of docs/openapi.yaml, apart from HTTP: routes a request,
 * authenticates it, counts it against the rate limit, and produces the
 * status and JSON body. server.c carries it over libmicrohttpd.
 */
#ifndef RR_TOKEND_API_H
#define RR_TOKEND_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "listing.h"
#include "ratelimit.h"
#include "signer.h"
#include "store.h"

/* The default of POST /tokens without a duration, and of --add-user. */
#define API_DEFAULT_DURATION (24 * 3600)

struct api {
	struct store *store;
	struct signer *signer;
	struct auth *auth;
	struct listing_cache *listings;
	/* Requests per hour per user, across all of the user's tokens. */
	struct ratelimit_table *user_limits;
	long rate_limit;
	/* Failed authentications per hour per client address. */
	struct ratelimit_table *failure_limits;
	long auth_failure_limit;
	int64_t max_duration;
};

/* Header and query values are NULL when absent. */
struct api_request {
	/* The client's address as failed authentications are counted (NULL: not counted). */
	const char *client;
	const char *method;
	const char *path;
	const char *authorization;
	const char *if_none_match;
	const char *idempotency_key;
	const char *with_token;
	/* The paging parameters of GET /tokens. */
	const char *limit;
	const char *after;
	const char *body;
	size_t body_length;
};

struct api_response {
	unsigned int status;
	/* JSON, or NULL for no body; may hold token text, so freed with secret_free. */
	char *body;
	/* The Allow header of a 405. */
	const char *allow;
	/* The ETag header, "" for none. */
	char etag[LISTING_ETAG_SIZE];
	/* Set once the bearer token was accepted. */
	bool authenticated;
	char user[SIGNER_USER_MAX + 1];
	/* Set when rate holds the X-RateLimit-* values: the user's, or the client address's
	 * once its failed authentications used up their credit. */
	bool rate_known;
	struct ratelimit_state rate;
};

void api_handle(struct api *api, const struct api_request *request, struct api_response *response);

/* Makes the tables of api's rate limits. */
int api_limits_new(struct api *api);

void api_limits_free(struct api *api);

/* Fills response with status and the body {"error_message": message}. */
void api_set_error(struct api_response *response, unsigned int status, const char *message);

/*
 * Makes a token for user valid for duration seconds from now and stores it.
 * With an idempotency_key this user used in the last 24 h, *replay says
 * what it found: for STORE_REPLAY the earlier token is returned instead,
 * for the other replays none (token->text is NULL). token->text is freed
 * with secret_free.
 */
int api_make_token(struct api *api, const char *user, int64_t now, int64_t duration,
		   const char *idempotency_key, struct store_token *token,
		   enum store_replay *replay);

/* User names: 1 to SIGNER_USER_MAX of letters, digits and . _ @ + - */
bool api_user_name_is_valid(const char *name);

#endif
