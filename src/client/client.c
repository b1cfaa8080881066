/*
 * The client: its making, the check before mounting, and the reads of
 * rerobots/client.h, each answered from the cache while it holds (cache.h)
 * and otherwise with the fewest requests, shared by concurrent callers
 * (flight.h). The creates and revokes are in change.c, the token the
 * client authenticates with in own_token.c.
 *
 *   list          fresh listing: none; else GET /tokens?limit=1000 (If-None-Match),
 *                 then a GET with after=NEXT per further page (walk.h)
 *   token_get     fresh listing: none; stale: as list; none: GET /token/ID
 *   token_text    cached: none; after a listing call: the pages of
 *                 GET /tokens?with_token=1 once; else GET /token/ID
 *   check         GET /tokens, every page: the mount starts with the listing
 *   token_create  POST /tokens, retried with the same Idempotency-Key
 *   token_revoke  POST /revoke/ID, retried (revoking is idempotent)
 *
 * The client's mutex guards the cache and the flights and is never held
 * during a request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_private.h"
#include "errors.h"
#include "log.h"
#include "monotonic.h"
#include "secret.h"
#include "token_id.h"
#include "walk.h"

/* The longest a server's Retry-After or rate-limit reset keeps reads on the cache. */
#define CLIENT_QUIET_MAX_MS (3600 * 1000L)

int64_t client_now(void)
{
	return (int64_t)time(NULL);
}

/*
 * A read that the API could not answer is served from the cache: said once
 * in the log, not once per call, until the API answers again. A server that
 * asked for quiet (Retry-After, or a rate limit until its reset) gets it
 * from reads. Lock held.
 */
static void client_serve_cached(struct rr_client *client, const struct outcome *outcome)
{
	int64_t quiet_ms = outcome->retry_after_s * 1000L;

	outcome_log_serving_cached(&client->outcome_log, outcome);
	if (quiet_ms > 0)
		cache_quiet_until(&client->cache, monotonic_ms() + (quiet_ms < CLIENT_QUIET_MAX_MS
									? quiet_ms
									: CLIENT_QUIET_MAX_MS));
}

/* Lock held. */
static int client_apply_listing(struct rr_client *client, struct walk *walk, bool with_texts)
{
	bool changed;
	int error;

	if (walk->unchanged) {
		if (!cache_has_listing(&client->cache))
			return -EIO;
		cache_confirm(&client->cache, monotonic_ms());
		return 0;
	}
	error = cache_replace(&client->cache, &walk->listing, client->flights.changes,
			      client->flights.change_count, monotonic_ms(), &changed);
	if (error != 0)
		return error;
	client->removal_epoch++;
	/*
	 * The service's ETag is per representation, so the bulk answer's is no
	 * use for revalidating the plain listing; the plain one stays right as
	 * long as the bulk answer showed the same tokens.
	 */
	if (with_texts && changed)
		cache_set_etag(&client->cache, "");
	else if (!with_texts)
		cache_set_etag(&client->cache, walk->etag);
	return 0;
}

/*
 * Fetches the listing (with every text when with_texts) while others wait for
 * it; local creates and revokes made meanwhile are recorded for the whole
 * walk, which may take many pages. Called with the lock held and no listing
 * in flight.
 * On a failure the line is logged, unless a listing is cached: then the
 * listing is trusted for another list_ttl (or as long as the server asked),
 * so that an outage does not make every call wait for the timeout, nor the
 * mount add to it.
 */
static int client_fetch_listing(struct rr_client *client, const char *operation, bool with_texts,
				bool quiet, struct outcome *outcome)
{
	char etag[CACHE_ETAG_MAX];
	const char *if_none_match = NULL;
	struct walk walk;
	int error;

	flight_listing_begin(&client->flights);
	if (!with_texts && cache_etag(&client->cache, etag))
		if_none_match = etag;
	walk_init(&walk, &client->cache);
	pthread_mutex_unlock(&client->lock);
	error = walk_listing(&walk, client->http, &client->outcome_log, operation, with_texts,
			     if_none_match, outcome);
	pthread_mutex_lock(&client->lock);

	if (error == 0) {
		error = client_apply_listing(client, &walk, with_texts);
		if (error != 0) {
			struct http_request request = {.method = "GET", .path = "/tokens"};

			outcome_bad_body(outcome, operation, &request, error,
					 error == -EIO ? "304 without a cached listing"
						       : strerror(-error));
		}
	}
	walk_release(&walk);

	if (error != 0 && !errors_is_authoritative(error) && cache_has_listing(&client->cache)) {
		client_serve_cached(client, outcome);
		cache_confirm(&client->cache, monotonic_ms());
	} else if (error != 0 && !quiet) {
		log_error("%s", outcome->line);
	}
	flight_listing_land(&client->flights, error);
	return error;
}

/*
 * Makes sure the listing was refreshed once: by this caller, or by a refresh
 * already in flight that it waits for. Lock held.
 */
static int client_refresh_listing(struct rr_client *client, const char *operation)
{
	struct outcome outcome;

	if (client->flights.listing_in_flight)
		return flight_listing_wait(&client->flights);
	return client_fetch_listing(client, operation, false, false, &outcome);
}

void client_token_from_decoded(struct rr_token *token, const struct decoded_token *decoded)
{
	memcpy(token->id, decoded->id, RR_TOKEN_ID_LENGTH + 1);
	token->created = decoded->created;
	token->expires = decoded->expires;
	token->text_length = decoded->text == NULL ? 0 : decoded->text_length;
}

/* GET /token/ID for the flight's owner; lock not held. */
static int client_request_token(struct rr_client *client, const char *operation,
				struct flight_text *flight, struct outcome *outcome)
{
	char path[sizeof("/token/") + RR_TOKEN_ID_LENGTH];
	struct http_request request = {.method = "GET", .path = path};
	struct http_response response;
	struct decoded_token decoded;
	json_t *root = NULL;
	const char *why = NULL;
	int error;

	snprintf(path, sizeof(path), "/token/%s", flight->id);
	http_perform(client->http, &request, &response);
	error =
	    outcome_from_response(&client->outcome_log, outcome, operation, &request, &response);
	if (error == 0) {
		error = decode_token(response.body, response.body_length, &decoded, &root, &why);
		if (error != 0)
			outcome_bad_body(outcome, operation, &request, error, why);
		else if (strcmp(decoded.id, flight->id) != 0)
			error = outcome_bad_body(outcome, operation, &request, -EIO,
						 "the answer is about another token");
	}
	if (error == 0 && flight_text_keep(flight, &decoded) != 0)
		error = outcome_bad_body(outcome, operation, &request, -ENOMEM, strerror(ENOMEM));
	json_decref(root);
	http_response_release(&response);
	return error;
}

/*
 * GET /token/ID, made once however many threads ask at the same time. Lock
 * held. *landed is the flight (its token and text on success), which the
 * caller releases with flight_text_release() under the lock. With
 * cached_fallback the caller can answer from the cache unless the API said
 * 404, and the failure is logged as such.
 */
static int client_fetch_token(struct rr_client *client, const char *operation, const char *id,
			      bool cached_fallback, struct flight_text **landed)
{
	struct flight_text *flight;
	struct outcome outcome;
	uint64_t epoch = client->removal_epoch;
	bool owner;
	int error;

	flight = flight_text_join(&client->flights, id, &owner);
	if (flight == NULL)
		return -ENOMEM;
	*landed = flight;
	if (!owner)
		return flight->result;
	pthread_mutex_unlock(&client->lock);
	error = client_request_token(client, operation, flight, &outcome);
	pthread_mutex_lock(&client->lock);

	if (error == 0) {
		/* A token that left the cache meanwhile (revoked) is not brought back. */
		if (epoch == client->removal_epoch || cache_contains(&client->cache, id))
			cache_put(&client->cache, &flight->token, monotonic_ms());
	} else if (!errors_is_authoritative(error) && cached_fallback) {
		client_serve_cached(client, &outcome);
	} else {
		log_error("%s", outcome.line);
		if (error == -ENOENT) {
			cache_remove(&client->cache, id, true);
			client->removal_epoch++;
		}
	}
	flight_text_land(&client->flights, flight, error);
	return error;
}

struct rr_client *rr_client_new(const struct rr_client_options *options)
{
	struct http_options http_options;
	struct rr_client *client;
	size_t origin_length;

	if (options->origin == NULL || (strncmp(options->origin, "http://", 7) != 0 &&
					strncmp(options->origin, "https://", 8) != 0)) {
		log_error("the origin must be an http:// or https:// URL");
		return NULL;
	}
	if (options->token == NULL || options->token[0] == '\0') {
		log_error("no API token");
		return NULL;
	}
	client = calloc(1, sizeof(*client));
	if (client == NULL) {
		log_error("cannot make the API client: %s", strerror(ENOMEM));
		return NULL;
	}
	client->origin = strdup(options->origin);
	if (client->origin == NULL) {
		log_error("cannot make the API client: %s", strerror(ENOMEM));
		free(client);
		return NULL;
	}
	origin_length = strlen(client->origin);
	while (origin_length > 0 && client->origin[origin_length - 1] == '/')
		client->origin[--origin_length] = '\0';
	if (token_id_compute(options->token, strlen(options->token), client->own_id) != 0) {
		log_error("cannot compute the id of the API token");
		free(client->origin);
		free(client);
		return NULL;
	}
	client->timeout_ms = options->timeout_seconds * 1000;
	client->list_ttl_ms = (int64_t)options->list_ttl_seconds * 1000;
	pthread_mutex_init(&client->lock, NULL);
	pthread_mutex_init(&client->own_lock, NULL);
	flight_init(&client->flights, &client->lock);
	cache_init(&client->cache, client->list_ttl_ms);
	outcome_log_init(&client->outcome_log, client->origin);
	decode_init();

	http_options = (struct http_options){
	    .origin = client->origin,
	    .token = options->token,
	    .timeout_ms = client->timeout_ms,
	    .cafile = options->cafile,
	    .insecure = options->insecure,
	};
	client->http = http_pool_new(&http_options);
	if (client->http == NULL) {
		rr_client_free(client);
		return NULL;
	}
	client->settle = settle_new(client->http, change_settle_revoke, client);
	if (client->settle == NULL) {
		log_error("cannot make the API client: %s", strerror(ENOMEM));
		rr_client_free(client);
		return NULL;
	}
	return client;
}

void rr_client_free(struct rr_client *client)
{
	if (client == NULL)
		return;
	/* First: its thread revokes through the client. */
	settle_free(client->settle);
	http_pool_free(client->http);
	cache_destroy(&client->cache);
	flight_destroy(&client->flights);
	pthread_mutex_destroy(&client->own_lock);
	pthread_mutex_destroy(&client->lock);
	free(client->origin);
	free(client);
}

/*
 * Whether the answer to the first listing shows a server that does not speak
 * the API at all, as a web server or another API at the origin would answer:
 * a 404 for GET /tokens, or a body that is not the API's JSON. A 5xx with a
 * web page is left out: that is what a proxy in front of a failing API says.
 */
static bool client_answer_is_not_the_api(const struct outcome *outcome)
{
	return outcome->status == 404 || (outcome->status < 500 && outcome->body_unexpected);
}

int rr_client_check(struct rr_client *client, char *message, size_t size)
{
	struct outcome outcome;
	int error;

	pthread_mutex_lock(&client->lock);
	while (client->flights.listing_in_flight)
		flight_listing_wait(&client->flights);
	/* Quiet: the caller prints the message, which must be the mount's one line. */
	error = client_fetch_listing(client, "check", false, true, &outcome);
	pthread_mutex_unlock(&client->lock);

	if (error == 0)
		snprintf(message, size, "the API at %s accepted the token", client->origin);
	else if (outcome.transport && error == -EACCES)
		snprintf(message, size, "cannot verify the TLS certificate of %s: %s",
			 client->origin, outcome.detail);
	else if (outcome.transport && errors_is_unreachable(error))
		snprintf(message, size, "cannot reach %s: %s", client->origin, outcome.detail);
	else if (outcome.transport)
		snprintf(message, size, "no valid answer from %s: %s", client->origin,
			 outcome.detail);
	else if (client_answer_is_not_the_api(&outcome))
		snprintf(message, size,
			 "%s does not serve the rerobots token API: GET /tokens answered HTTP %ld: "
			 "%s; the API is docs/openapi.yaml in rerobotsfs's sources, and "
			 "scripts/conformance there checks a server against it",
			 client->origin, outcome.status,
			 outcome.error_message[0] ? outcome.error_message
			 : outcome.detail[0]	  ? outcome.detail
						  : "response body is not JSON");
	else if (error == -EACCES)
		snprintf(message, size, "the API at %s rejected the token: %s", client->origin,
			 outcome.error_message[0] ? outcome.error_message : "HTTP 401");
	else if (outcome.error_message[0] != '\0')
		snprintf(message, size, "the API at %s answered HTTP %ld: %s", client->origin,
			 outcome.status, outcome.error_message);
	else
		snprintf(message, size, "the API at %s answered HTTP %ld: %s", client->origin,
			 outcome.status, outcome.detail[0] ? outcome.detail : "no error_message");
	return error;
}

/*
 * Refreshes a listing that no longer holds. A failure that is not the API's
 * word on the tokens (no answer, a 5xx, a rate limit) leaves the cached
 * listing standing, and the read is answered from it. Lock held.
 */
static int client_revalidate_listing(struct rr_client *client, const char *operation)
{
	int error = client_refresh_listing(client, operation);

	if (!errors_is_authoritative(error) && cache_has_listing(&client->cache))
		error = 0;
	/* Tokens may have expired while the request was out. */
	cache_expire(&client->cache, client_now());
	return error;
}

/*
 * The common part of the listing calls, with the lock held: counts as a
 * listing call for the bulk read of texts (also when the kernel answers
 * from its own copy of the listing), and refreshes a stale listing, keeping
 * the cached one when the API cannot be reached.
 */
static int client_listing_ensure(struct rr_client *client, const char *operation)
{
	int error = 0;

	cache_expire(&client->cache, client_now());
	client->list_call_ms = monotonic_ms();
	client->list_called = true;
	if (!cache_is_fresh(&client->cache, client->list_call_ms))
		error = client_revalidate_listing(client, operation);
	return error;
}

int rr_client_list(struct rr_client *client, const char *operation, const char *from,
		   struct rr_token *tokens, size_t max, size_t *count)
{
	unsigned char from_bytes[TOKEN_ID_BYTES];
	int error;

	if (from != NULL && !token_id_to_bytes(from, from_bytes))
		return -EINVAL;
	pthread_mutex_lock(&client->lock);
	error = client_listing_ensure(client, operation);
	if (error == 0)
		*count = cache_copy_tokens(&client->cache, from == NULL ? NULL : from_bytes, tokens,
					   max);
	pthread_mutex_unlock(&client->lock);
	return error;
}

int rr_client_list_version(struct rr_client *client, const char *operation, uint64_t *version)
{
	int error;

	pthread_mutex_lock(&client->lock);
	error = client_listing_ensure(client, operation);
	*version = cache_version(&client->cache);
	pthread_mutex_unlock(&client->lock);
	return error;
}

int rr_client_token_get(struct rr_client *client, const char *operation, const char *id,
			struct rr_token *token)
{
	struct flight_text *flight = NULL;
	enum cache_state state;
	int64_t now_ms;
	int error = 0;

	if (id == NULL || !token_id_is_valid(id))
		return -ENOENT;
	pthread_mutex_lock(&client->lock);
	cache_expire(&client->cache, client_now());
	/* A cold listing on its way answers this lookup too. */
	if (client->flights.listing_in_flight)
		flight_listing_wait(&client->flights);
	now_ms = monotonic_ms();
	state = cache_find(&client->cache, id, now_ms, token);

	if (cache_has_listing(&client->cache)) {
		if (!cache_is_fresh(&client->cache, now_ms)) {
			error = client_revalidate_listing(client, operation);
			state = cache_find(&client->cache, id, now_ms, token);
		}
	} else if (state != CACHE_FRESH) {
		error = client_fetch_token(client, operation, id, state == CACHE_STALE, &flight);
		if (error == 0) {
			client_token_from_decoded(token, &flight->token);
			goto out;
		}
		state = cache_find(&client->cache, id, now_ms, token);
		if (!errors_is_authoritative(error) && state != CACHE_ABSENT)
			error = 0;
	}
	if (error == 0 && state == CACHE_ABSENT)
		error = -ENOENT;
out:
	if (flight != NULL)
		flight_text_release(flight);
	pthread_mutex_unlock(&client->lock);
	return error;
}

/* A text miss right after a listing call, with more texts missing: the bulk request pays. */
static bool client_bulk_read_likely(const struct rr_client *client, int64_t now_ms)
{
	return cache_is_fresh(&client->cache, now_ms) && client->list_called &&
	       now_ms - client->list_call_ms < client->list_ttl_ms &&
	       !(client->bulk_failed && now_ms - client->bulk_failed_ms < client->list_ttl_ms) &&
	       cache_missing_texts(&client->cache) > 1;
}

static int client_copy_text(const char *source, size_t source_length, char **text, size_t *length)
{
	*text = secret_dup(source, source_length);
	if (*text == NULL)
		return -ENOMEM;
	*length = source_length;
	return 0;
}

int rr_client_token_text(struct rr_client *client, const char *operation, const char *id,
			 char **text, size_t *length)
{
	struct flight_text *flight = NULL;
	bool waited = false;
	bool bulk_tried = false;
	int error;

	if (id == NULL || !token_id_is_valid(id))
		return -ENOENT;
	pthread_mutex_lock(&client->lock);
	cache_expire(&client->cache, client_now());
	for (;;) {
		int64_t now_ms = monotonic_ms();

		error = cache_copy_text(&client->cache, id, text, length);
		if (error != -ENOENT && error != -ENODATA)
			break;
		/* Not in a listing that holds: no such token. */
		if (error == -ENOENT && cache_is_fresh(&client->cache, now_ms))
			break;
		/* A listing in flight may be the bulk read that brings this text. */
		if (client->flights.listing_in_flight && !waited) {
			waited = true;
			flight_listing_wait(&client->flights);
			continue;
		}
		if (!bulk_tried && !client->flights.listing_in_flight &&
		    client_bulk_read_likely(client, now_ms)) {
			struct outcome outcome;

			bulk_tried = true;
			error = client_fetch_listing(client, operation, true, false, &outcome);
			if (error != 0) {
				client->bulk_failed = true;
				client->bulk_failed_ms = monotonic_ms();
			}
			/* Reading this one text alone cannot fare better when the API is away. */
			if (errors_is_unreachable(error))
				break;
			continue;
		}
		error = client_fetch_token(client, operation, id, false, &flight);
		if (error == 0)
			error = client_copy_text(flight->token.text, flight->token.text_length,
						 text, length);
		break;
	}
	if (flight != NULL)
		flight_text_release(flight);
	pthread_mutex_unlock(&client->lock);
	return error;
}

size_t rr_client_collect_removed(struct rr_client *client, int64_t now,
				 char (*ids)[RR_TOKEN_ID_LENGTH + 1], size_t max)
{
	size_t taken;

	pthread_mutex_lock(&client->lock);
	cache_expire(&client->cache, now);
	taken = cache_take_removed(&client->cache, ids, max);
	pthread_mutex_unlock(&client->lock);
	return taken;
}

void rr_client_report_gone(struct rr_client *client, const char *id)
{
	if (id == NULL || !token_id_is_valid(id))
		return;
	pthread_mutex_lock(&client->lock);
	cache_report_gone(&client->cache, id);
	pthread_mutex_unlock(&client->lock);
}

size_t rr_client_collect_added(struct rr_client *client, struct rr_token *tokens, size_t max)
{
	size_t taken;

	pthread_mutex_lock(&client->lock);
	taken = cache_take_added(&client->cache, tokens, max);
	pthread_mutex_unlock(&client->lock);
	return taken;
}
