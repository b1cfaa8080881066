/*
 * The calls that change tokens: token_create (POST /tokens) and
 * token_revoke (POST /revoke/ID), each sent again while its answer may
 * have been lost and the call has time left, and their mark on the cache.
 * A create sent again carries the same Idempotency-Key, so that the
 * service makes one token however many times it arrives; a create whose
 * outcome stays unknown goes to the settler (settle.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "client_private.h"
#include "errors.h"
#include "hex.h"
#include "log.h"
#include "monotonic.h"
#include "token_id.h"

#define CHANGE_RETRY_FIRST_MS	 100
#define CHANGE_RETRY_MAX_MS	 1000
#define CHANGE_IDEMPOTENCY_BYTES 16

/* Waits before the next try of a request whose answer was lost; false when out of time. */
static bool change_retry_pause(int64_t deadline_ms, int64_t *pause_ms)
{
	if (monotonic_ms() + *pause_ms >= deadline_ms)
		return false;
	monotonic_sleep_ms(*pause_ms);
	*pause_ms = *pause_ms * 2 < CHANGE_RETRY_MAX_MS ? *pause_ms * 2 : CHANGE_RETRY_MAX_MS;
	return true;
}

/*
 * Sends an idempotent request until it gets an answer or the call's time is
 * up; the caller releases the response and logs the outcome's line.
 */
static int change_perform_retrying(struct rr_client *client, const char *operation,
				   struct http_request *request, struct http_response *response,
				   struct outcome *outcome)
{
	int64_t deadline_ms = monotonic_ms() + client->timeout_ms;
	int64_t pause_ms = CHANGE_RETRY_FIRST_MS;

	for (;;) {
		int64_t remaining_ms = deadline_ms - monotonic_ms();

		request->timeout_ms = remaining_ms > 1 ? (long)remaining_ms : 1;
		http_perform(client->http, request, response);
		if (response->result == CURLE_OK ||
		    !errors_transport_is_transient(response->result) ||
		    !change_retry_pause(deadline_ms, &pause_ms))
			break;
		http_response_release(response);
	}
	return outcome_from_response(&client->outcome_log, outcome, operation, request, response);
}

static int change_idempotency_key(char *key, size_t size)
{
	unsigned char random[CHANGE_IDEMPOTENCY_BYTES];

	if (size < 2 * sizeof(random) + 1 ||
	    getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
		return -EIO;
	hex_encode(random, sizeof(random), key);
	return 0;
}

/*
 * Whether a failed create may have made a token all the same: its answer
 * was lost or cut, late, a 5xx, or a success whose body is not a token. A
 * refused connection or a 4xx made none.
 */
static bool change_may_have_made(const struct http_response *response)
{
	switch (response->result) {
	case CURLE_OK:
		return response->status >= 500 ||
		       (response->status >= 200 && response->status < 300);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return false;
	default:
		return true;
	}
}

int rr_client_token_create(struct rr_client *client, const char *operation, int64_t duration,
			   struct rr_token *token)
{
	char key[2 * CHANGE_IDEMPOTENCY_BYTES + 1];
	char body[64];
	struct http_request request = {
	    .method = "POST",
	    .path = "/tokens",
	    .body = body,
	    .idempotency_key = key,
	};
	struct http_response response;
	struct outcome outcome;
	struct decoded_token decoded;
	json_t *root = NULL;
	const char *why = NULL;
	int error;

	if (duration <= 0)
		return -EINVAL;
	if (change_idempotency_key(key, sizeof(key)) != 0) {
		log_error("%s: cannot make an Idempotency-Key: %s", operation, strerror(errno));
		return -EIO;
	}
	snprintf(body, sizeof(body), "{\"duration\": %" PRId64 "}", duration);
	error = change_perform_retrying(client, operation, &request, &response, &outcome);
	if (error == 0) {
		error = decode_token(response.body, response.body_length, &decoded, &root, &why);
		if (error != 0)
			outcome_bad_body(&outcome, operation, &request, error, why);
	}
	if (error != 0) {
		log_error("%s", outcome.line);
		if (change_may_have_made(&response))
			settle_add(client->settle, operation, key, body);
		goto out;
	}

	pthread_mutex_lock(&client->lock);
	/* Out of memory here only means the next listing shows the token. */
	if (cache_put(&client->cache, &decoded, monotonic_ms()) == 0)
		flight_record_change(&client->flights, decoded.id, true);
	pthread_mutex_unlock(&client->lock);
	client_token_from_decoded(token, &decoded);
out:
	json_decref(root);
	http_response_release(&response);
	return error;
}

/*
 * POST /revoke/ID, retried, and the token out of the cache. With report
 * the kernel is told of it; it learns of a local rmdir by itself, of a 404
 * it must be told.
 */
static int change_revoke(struct rr_client *client, const char *operation, const char *id,
			 bool report)
{
	char path[sizeof("/revoke/") + RR_TOKEN_ID_LENGTH];
	struct http_request request = {.method = "POST", .path = path};
	struct http_response response;
	struct outcome outcome;
	int error;

	snprintf(path, sizeof(path), "/revoke/%s", id);
	error = change_perform_retrying(client, operation, &request, &response, &outcome);
	http_response_release(&response);
	if (error != 0)
		log_error("%s", outcome.line);
	if (error != 0 && error != -ENOENT)
		return error;

	pthread_mutex_lock(&client->lock);
	cache_remove(&client->cache, id, report || error == -ENOENT);
	client->removal_epoch++;
	if (error == 0)
		flight_record_change(&client->flights, id, false);
	pthread_mutex_unlock(&client->lock);
	return error;
}

int rr_client_token_revoke(struct rr_client *client, const char *operation, const char *id)
{
	bool known_absent;

	if (rr_client_is_own_token(client, id))
		return -EBUSY;
	if (id == NULL || !token_id_is_valid(id))
		return -ENOENT;
	pthread_mutex_lock(&client->lock);
	cache_expire(&client->cache, client_now());
	known_absent =
	    !cache_contains(&client->cache, id) && cache_is_fresh(&client->cache, monotonic_ms());
	pthread_mutex_unlock(&client->lock);
	if (known_absent)
		return -ENOENT;
	return change_revoke(client, operation, id, false);
}

/* A token that a create whose outcome was unknown made: not in any listing yet, maybe. */
int change_settle_revoke(void *user, const char *operation, const char *id)
{
	return change_revoke(user, operation, id, true);
}
