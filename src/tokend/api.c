/*
 * The calls of docs/openapi.yaml; see api.h. Each handler fills the response
 * with exactly one status and, for anything but 304, a JSON body.
 */
#include "api.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "secret.h"

#define API_IDEMPOTENCY_SECONDS (24 * 3600)
#define API_IDEMPOTENCY_KEY_MAX 255
/* The most tokens one page of a listing holds, whatever its limit asks. */
#define API_PAGE_MAX		1000
#define API_HTTP_OK		200
#define API_HTTP_CREATED	201
#define API_HTTP_NOT_MODIFIED	304
#define API_HTTP_BAD_REQUEST	400
#define API_HTTP_UNAUTHORIZED	401
#define API_HTTP_FORBIDDEN	403
#define API_HTTP_NOT_FOUND	404
#define API_HTTP_NOT_ALLOWED	405
#define API_HTTP_CONFLICT	409
#define API_HTTP_UNPROCESSABLE	422
#define API_HTTP_INTERNAL_ERROR 500
#define API_HTTP_UNAVAILABLE	503

/* generation is the store's, read once for the request before authenticating it. */
typedef void (*api_handler)(struct api *api, const struct api_request *request, const char *id,
			    uint64_t generation, struct api_response *response);

struct api_route {
	const char *path;
	/* The path is a prefix followed by a token id. */
	bool takes_id;
	api_handler get;
	api_handler post;
	const char *allow;
};

static void api_set_json(struct api_response *response, unsigned int status, json_t *json)
{
	response->status = status;
	response->body = json == NULL ? NULL : json_dumps(json, JSON_COMPACT);
	json_decref(json);
	if (response->body == NULL) {
		log_error("out of memory for a response");
		response->status = API_HTTP_INTERNAL_ERROR;
	}
}

void api_set_error(struct api_response *response, unsigned int status, const char *message)
{
	api_set_json(response, status, json_pack("{s:s}", "error_message", message));
}

static void api_set_failure(struct api_response *response, int err)
{
	if (err == -ENOENT)
		api_set_error(response, API_HTTP_NOT_FOUND, "no such token");
	else if (err == -ENOTCONN)
		api_set_error(response, API_HTTP_UNAVAILABLE,
			      "the database cannot be reached; retry later");
	else
		api_set_error(response, API_HTTP_INTERNAL_ERROR, "internal error");
}

/* Built field by field rather than with json_pack: listings make a thousand of these. */
static json_t *api_token_json(const struct store_token *token, bool with_text)
{
	json_t *json = json_object();

	if (json == NULL ||
	    json_object_set_new_nocheck(json, "id",
					json_stringn_nocheck(token->id, TOKEN_ID_LENGTH)) != 0 ||
	    json_object_set_new_nocheck(json, "created", json_integer(token->created)) != 0 ||
	    json_object_set_new_nocheck(json, "expires", json_integer(token->expires)) != 0 ||
	    (with_text &&
	     json_object_set_new_nocheck(json, "token", json_string(token->text)) != 0)) {
		json_decref(json);
		return NULL;
	}
	return json;
}

struct api_listing {
	json_t *tokens;
	bool with_text;
	int64_t earliest_expiry;
	/* A page holds at most limit tokens (0: the whole listing); more is set when one follows.
	 */
	size_t limit;
	size_t count;
	bool more;
	char last[TOKEN_ID_LENGTH + 1];
};

/* Stops the walk (1) at the token past a full page, which tells that another page follows. */
static int api_list_one(const struct store_token *token, void *context)
{
	struct api_listing *listing = context;

	if (listing->limit != 0 && listing->count == listing->limit) {
		listing->more = true;
		return 1;
	}
	if (token->expires < listing->earliest_expiry)
		listing->earliest_expiry = token->expires;
	if (json_array_append_new(listing->tokens, api_token_json(token, listing->with_text)) != 0)
		return -ENOMEM;
	memcpy(listing->last, token->id, TOKEN_ID_LENGTH);
	listing->last[TOKEN_ID_LENGTH] = '\0';
	listing->count++;
	return 0;
}

static bool api_flag_is_set(const char *value)
{
	return value != NULL && (strcmp(value, "1") == 0 || strcmp(value, "true") == 0);
}

/*
 * The paging parameters of GET /tokens: *paged when either is given, and
 * then listing->limit. -EINVAL with the reason in message for a 400.
 */
static int api_parse_page(const struct api_request *request, struct api_listing *listing,
			  bool *paged, char *message, size_t size)
{
	size_t limit = 0;

	*paged = request->limit != NULL || request->after != NULL;
	if (!*paged)
		return 0;
	if (request->after != NULL && !token_id_is_valid(request->after)) {
		snprintf(message, size,
			 "after must be a token id: 64 lowercase hexadecimal digits");
		return -EINVAL;
	}
	if (request->limit == NULL) {
		listing->limit = API_PAGE_MAX;
		return 0;
	}
	for (const char *digit = request->limit; *digit != '\0'; digit++) {
		if (*digit < '0' || *digit > '9') {
			limit = 0;
			break;
		}
		/* Past the page size the value no longer matters, and cannot overflow. */
		if (limit <= API_PAGE_MAX)
			limit = limit * 10 + (size_t)(*digit - '0');
	}
	if (limit == 0) {
		snprintf(message, size, "limit must be a whole number from 1");
		return -EINVAL;
	}
	listing->limit = limit < API_PAGE_MAX ? limit : API_PAGE_MAX;
	return 0;
}

/*
 * Reads the tokens of a listing (a page of it where listing->limit is set)
 * into a JSON body, with "next" where another page follows.
 */
static int api_listing_read(struct api *api, const char *user, int64_t now, const char *after,
			    struct api_listing *listing, char **body)
{
	json_t *root;
	int err;

	listing->tokens = json_array();
	if (listing->tokens == NULL)
		return -ENOMEM;
	if (listing->limit != 0)
		/* One more than a page, to learn whether another follows. */
		err = store_token_page(api->store, user, now, listing->with_text, after,
				       (int64_t)listing->limit + 1, api_list_one, listing);
	else
		err = store_token_list(api->store, user, now, listing->with_text, api_list_one,
				       listing);
	if (err < 0) {
		json_decref(listing->tokens);
		return err;
	}
	root = json_pack("{s:o}", "tokens", listing->tokens);
	if (root != NULL && listing->more &&
	    json_object_set_new(root, "next", json_string(listing->last)) != 0) {
		json_decref(root);
		root = NULL;
	}
	*body = root == NULL ? NULL : json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return *body == NULL ? -ENOMEM : 0;
}

/*
 * The ETag of the whole plain listing of user as of generation, and its
 * body where body is not NULL (freed with secret_free): from memory, or read
 * and remembered. Every representation and page takes its ETag from this
 * one, so that a page's ETag tells whether the whole listing changed.
 */
static int api_plain_listing(struct api *api, const char *user, uint64_t generation, int64_t now,
			     char *etag, char **body)
{
	struct api_listing listing = {.earliest_expiry = INT64_MAX};
	char *built;
	int err;

	if (listing_cache_lookup(api->listings, user, generation, now, etag, body))
		return 0;
	err = api_listing_read(api, user, now, NULL, &listing, &built);
	if (err < 0)
		return err;
	if (listing_etag_compute(built, strlen(built), etag) < 0) {
		secret_free(built);
		return -EIO;
	}
	listing_cache_store(api->listings, user, generation, listing.earliest_expiry, etag, built);
	if (body != NULL)
		*body = built;
	else
		secret_free(built);
	return 0;
}

static void api_list(struct api *api, const struct api_request *request, const char *id,
		     uint64_t generation, struct api_response *response)
{
	struct api_listing listing = {
	    .with_text = api_flag_is_set(request->with_token),
	    .earliest_expiry = INT64_MAX,
	};
	const char *user = response->user;
	int64_t now = time(NULL);
	char plain_etag[LISTING_ETAG_SIZE];
	char message[128];
	char *body = NULL;
	bool paged, whole_plain;
	int err;

	if (api_parse_page(request, &listing, &paged, message, sizeof(message)) < 0) {
		api_set_error(response, API_HTTP_BAD_REQUEST, message);
		return;
	}
	/* Only the whole plain listing is answered from memory; see listing.h. */
	whole_plain = !listing.with_text && !paged;
	err = api_plain_listing(api, user, generation, now, plain_etag, whole_plain ? &body : NULL);
	if (err == 0 && listing.with_text)
		err = listing_etag_derive(plain_etag, "with_token", response->etag);
	else if (err == 0)
		memcpy(response->etag, plain_etag, LISTING_ETAG_SIZE);
	if (err < 0) {
		response->etag[0] = '\0';
		api_set_failure(response, err);
		return;
	}
	if (request->if_none_match != NULL &&
	    listing_etag_matches(request->if_none_match, response->etag)) {
		secret_free(body);
		response->status = API_HTTP_NOT_MODIFIED;
		return;
	}
	if (!whole_plain) {
		err = api_listing_read(api, user, now, request->after, &listing, &body);
		if (err < 0) {
			response->etag[0] = '\0';
			api_set_failure(response, err);
			return;
		}
	}
	response->status = API_HTTP_OK;
	response->body = body;
}

/* The duration of a POST /tokens body; -EINVAL with the reason in message for a 400. */
static int api_parse_duration(struct api *api, const struct api_request *request, int64_t *duration,
			      char *message, size_t size)
{
	json_error_t error;
	json_t *body, *value;
	int err = 0;

	*duration = API_DEFAULT_DURATION;
	if (request->body_length == 0)
		return 0;
	body = json_loadb(request->body, request->body_length, JSON_REJECT_DUPLICATES, &error);
	if (body == NULL) {
		snprintf(message, size, "malformed JSON body: %s", error.text);
		return -EINVAL;
	}
	if (!json_is_object(body)) {
		snprintf(message, size, "the body must be a JSON object");
		err = -EINVAL;
		goto out;
	}
	value = json_object_get(body, "duration");
	if (value == NULL)
		goto out;
	if (!json_is_integer(value) || json_integer_value(value) < 1 ||
	    json_integer_value(value) > api->max_duration) {
		snprintf(message, size, "duration must be a whole number of seconds from 1 to %lld",
			 (long long)api->max_duration);
		err = -EINVAL;
		goto out;
	}
	*duration = json_integer_value(value);
out:
	json_decref(body);
	return err;
}

static bool api_idempotency_key_is_valid(const char *key)
{
	size_t length = strlen(key);

	if (length == 0 || length > API_IDEMPOTENCY_KEY_MAX)
		return false;
	for (size_t i = 0; i < length; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return false;
	return true;
}

int api_make_token(struct api *api, const char *user, int64_t now, int64_t duration,
		   const char *idempotency_key, struct store_token *token,
		   enum store_replay *replay)
{
	char *text = NULL;
	int err;

	err = signer_sign(api->signer, user, now, now + duration, &text);
	if (err < 0)
		return err;
	err = token_id_compute(text, strlen(text), token->id);
	if (err < 0)
		goto out;
	token->text = text;
	token->created = now;
	token->expires = now + duration;
	err = store_token_insert(api->store, user, token, idempotency_key,
				 now - API_IDEMPOTENCY_SECONDS, replay);
	if (err == 0 && *replay == STORE_NEW)
		return 0;
	/* An earlier token's text is handed back only where the replay may answer it. */
	if (err == 0 && *replay != STORE_REPLAY) {
		secret_free((char *)token->text);
		token->text = NULL;
	}
out:
	/* Not stored, or an earlier token stands in its place. */
	secret_free(text);
	if (err < 0)
		token->text = NULL;
	return err;
}

static void api_create(struct api *api, const struct api_request *request, const char *id,
		       uint64_t generation, struct api_response *response)
{
	char message[256];
	struct store_token token;
	enum store_replay replay;
	int64_t duration;
	int err;

	if (api_parse_duration(api, request, &duration, message, sizeof(message)) < 0) {
		api_set_error(response, API_HTTP_BAD_REQUEST, message);
		return;
	}
	if (request->idempotency_key != NULL &&
	    !api_idempotency_key_is_valid(request->idempotency_key)) {
		api_set_error(response, API_HTTP_BAD_REQUEST,
			      "Idempotency-Key must be 1 to 255 printable characters");
		return;
	}
	err = api_make_token(api, response->user, time(NULL), duration, request->idempotency_key,
			     &token, &replay);
	if (err < 0) {
		api_set_failure(response, err);
		return;
	}
	switch (replay) {
	case STORE_REPLAY_INACTIVE:
		api_set_error(response, API_HTTP_CONFLICT,
			      "the token made for this Idempotency-Key was revoked or has expired");
		return;
	case STORE_REPLAY_OTHER_REQUEST:
		api_set_error(response, API_HTTP_UNPROCESSABLE,
			      "this Idempotency-Key was used for a request with another duration");
		return;
	case STORE_NEW:
	case STORE_REPLAY:
		break;
	}
	api_set_json(response, replay == STORE_REPLAY ? API_HTTP_OK : API_HTTP_CREATED,
		     api_token_json(&token, true));
	secret_free((char *)token.text);
}

static void api_get(struct api *api, const struct api_request *request, const char *id,
		    uint64_t generation, struct api_response *response)
{
	struct store_token token;
	int err;

	err = store_token_get(api->store, response->user, id, time(NULL), &token);
	if (err < 0) {
		api_set_failure(response, err);
		return;
	}
	api_set_json(response, API_HTTP_OK, api_token_json(&token, true));
	secret_free((char *)token.text);
}

static void api_revoke(struct api *api, const struct api_request *request, const char *id,
		       uint64_t generation, struct api_response *response)
{
	int err = store_token_revoke(api->store, response->user, id, time(NULL));

	if (err < 0) {
		api_set_failure(response, err);
		return;
	}
	auth_forget_token(api->auth, id);
	api_set_json(response, API_HTTP_OK, json_object());
}

static void api_purge(struct api *api, const struct api_request *request, const char *id,
		      uint64_t generation, struct api_response *response)
{
	int err = store_token_purge(api->store, response->user, time(NULL));

	if (err < 0) {
		api_set_failure(response, err);
		return;
	}
	auth_forget_user(api->auth, response->user);
	api_set_json(response, API_HTTP_OK, json_object());
}

/*
 * Checks the bearer token; on failure, fills response and returns < 0. A
 * client address whose failed authentications used up their credit gets
 * no RSA verification of a token the service does not know yet: it is
 * answered as an exhausted rate limit is (403, X-RateLimit-Remaining: 0),
 * while tokens verified before keep working from that address.
 */
static int api_authenticate(struct api *api, const struct api_request *request, uint64_t generation,
			    struct auth_session *session, struct api_response *response)
{
	int64_t now = time(NULL);
	bool verify = true;
	int err;

	if (request->client != NULL) {
		ratelimit_peek(api->failure_limits, request->client, api->auth_failure_limit, now,
			       &response->rate);
		verify = response->rate.allowed;
	}
	err = auth_check(api->auth, request->authorization, now, verify, generation, session);
	if (err == -EAGAIN) {
		response->rate_known = true;
		api_set_error(response, API_HTTP_FORBIDDEN,
			      "too many failed authentications from this address");
	} else if (err == -EACCES) {
		if (request->client != NULL)
			ratelimit_take(api->failure_limits, request->client,
				       api->auth_failure_limit, now, &response->rate);
		api_set_error(response, API_HTTP_UNAUTHORIZED, "wrong authorization token");
	} else if (err < 0) {
		api_set_failure(response, err);
	}
	return err;
}

static const struct api_route api_routes[] = {
    {"/tokens", false, api_list, api_create, "GET, HEAD, POST"},
    {"/token/", true, api_get, NULL, "GET, HEAD"},
    {"/revoke/", true, NULL, api_revoke, "POST"},
    {"/purge", false, NULL, api_purge, "POST"},
};

/* The route of path; *id points into path after a prefix route. */
static const struct api_route *api_find_route(const char *path, const char **id)
{
	for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
		const struct api_route *route = &api_routes[i];
		size_t length = strlen(route->path);

		if (route->takes_id && strncmp(path, route->path, length) == 0) {
			*id = path + length;
			return route;
		}
		if (!route->takes_id && strcmp(path, route->path) == 0) {
			*id = NULL;
			return route;
		}
	}
	return NULL;
}

void api_handle(struct api *api, const struct api_request *request, struct api_response *response)
{
	struct auth_session session;
	const struct api_route *route;
	api_handler handler = NULL;
	uint64_t generation;
	const char *id;
	int err;

	memset(response, 0, sizeof(*response));
	route = api_find_route(request->path, &id);
	if (route == NULL) {
		api_set_error(response, API_HTTP_NOT_FOUND, "no such path");
		return;
	}
	if (strcmp(request->method, "GET") == 0 || strcmp(request->method, "HEAD") == 0)
		handler = route->get;
	else if (strcmp(request->method, "POST") == 0)
		handler = route->post;
	if (handler == NULL) {
		response->allow = route->allow;
		api_set_error(response, API_HTTP_NOT_ALLOWED, "method not allowed");
		return;
	}

	/* Read before anything else: a change racing the request leaves a stale generation
	 * (one more read later), never a stale ETag or a revoked token taken as valid. */
	err = store_generation(api->store, &generation);
	if (err < 0) {
		api_set_failure(response, err);
		return;
	}
	err = api_authenticate(api, request, generation, &session, response);
	if (err < 0)
		return;
	response->authenticated = true;
	strcpy(response->user, session.user);
	err =
	    store_rate_take(api->store, session.user, api->rate_limit, time(NULL), &response->rate);
	if (err == -ENOTSUP)
		err = ratelimit_take(api->user_limits, session.user, api->rate_limit, time(NULL),
				     &response->rate);
	if (err < 0) {
		api_set_failure(response, err);
		return;
	}
	response->rate_known = true;
	if (!response->rate.allowed) {
		api_set_error(response, API_HTTP_FORBIDDEN, "rate limit exceeded");
		return;
	}

	if (route->takes_id && !token_id_is_valid(id)) {
		api_set_error(response, API_HTTP_BAD_REQUEST, "invalid token id");
		return;
	}
	handler(api, request, id, generation, response);
}

int api_limits_new(struct api *api)
{
	int err = ratelimit_table_new(&api->user_limits);

	if (err == 0)
		err = ratelimit_table_new(&api->failure_limits);
	return err;
}

void api_limits_free(struct api *api)
{
	ratelimit_table_free(api->user_limits);
	ratelimit_table_free(api->failure_limits);
	api->user_limits = NULL;
	api->failure_limits = NULL;
}

bool api_user_name_is_valid(const char *name)
{
	size_t length = strlen(name);

	if (length == 0 || length > SIGNER_USER_MAX)
		return false;
	for (size_t i = 0; i < length; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || strchr("._@+-", name[i]) != NULL))
			return false;
	return true;
}
