/*
 * The settler of creates whose outcome is unknown; see settle.h.
 *
 * One mutex guards the list of requests, and is never held while a request
 * is out. Each entry is due at a time; the thread sleeps until the earliest
 * one, takes it off the list while it sends, and puts it back with a later
 * time unless it is settled.
 */
#include "settle.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "decode.h"
#include "errors.h"
#include "log.h"
#include "monotonic.h"

#define SETTLE_FIRST_PAUSE_MS 500
#define SETTLE_MAX_PAUSE_MS   8000

struct settle_entry {
	struct settle_entry *next;
	const char *operation; /* what made the create, for the log: "mkdir", "renew" */
	char *idempotency_key;
	char *body;
	char id[RR_TOKEN_ID_LENGTH + 1]; /* "" until an answer names the token */
	int64_t due_ms;			 /* monotonic */
	int64_t pause_ms;		 /* before the next try */
	int64_t give_up_ms;
};

struct settle {
	struct http_pool *http;
	settle_revoke_fn revoke;
	void *revoke_user;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool started;
	bool stopping;
	pthread_t thread;
	struct settle_entry *entries;
};

static void settle_entry_free(struct settle_entry *entry)
{
	free(entry->idempotency_key);
	free(entry->body);
	free(entry);
}

enum settle_result {
	SETTLE_DONE,
	SETTLE_AGAIN,
};

/* Sends the create again; on an answer that names its token, entry->id is set. */
static enum settle_result settle_resend(struct settle *settle, struct settle_entry *entry)
{
	struct http_request request = {
	    .method = "POST",
	    .path = "/tokens",
	    .body = entry->body,
	    .idempotency_key = entry->idempotency_key,
	};
	struct http_response response;
	struct decoded_token decoded;
	json_t *root = NULL;
	const char *why = NULL;
	enum settle_result result = SETTLE_AGAIN;

	http_perform(settle->http, &request, &response);
	if (response.result != CURLE_OK || response.status >= 500)
		goto out;
	if (response.status == 200 || response.status == 201) {
		if (decode_token(response.body, response.body_length, &decoded, &root, &why) == 0)
			memcpy(entry->id, decoded.id, sizeof(entry->id));
		goto out;
	}
	/* 409: the token was revoked since; any other refusal made nothing. */
	if (response.status == 409)
		log_info("%s: the token that a failed request made is revoked already",
			 entry->operation);
	else
		log_info("%s: the service answered HTTP %ld to the failed request sent again: "
			 "it made no token",
			 entry->operation, response.status);
	result = SETTLE_DONE;
out:
	json_decref(root);
	http_response_release(&response);
	return result;
}

static enum settle_result settle_step(struct settle *settle, struct settle_entry *entry)
{
	int error;

	if (entry->id[0] == '\0' && settle_resend(settle, entry) == SETTLE_DONE)
		return SETTLE_DONE;
	if (entry->id[0] == '\0')
		return SETTLE_AGAIN;
	error = settle->revoke(settle->revoke_user, entry->operation, entry->id);
	if (error != 0 && error != -ENOENT)
		return SETTLE_AGAIN;
	log_info("%s: revoked token %.12s..., which a request that had failed made",
		 entry->operation, entry->id);
	return SETTLE_DONE;
}

/* Lock held. The entry due first, or NULL. */
static struct settle_entry *settle_first_due(const struct settle *settle)
{
	struct settle_entry *first = NULL;

	for (struct settle_entry *entry = settle->entries; entry != NULL; entry = entry->next)
		if (first == NULL || entry->due_ms < first->due_ms)
			first = entry;
	return first;
}

static void settle_unlink(struct settle *settle, struct settle_entry *entry)
{
	struct settle_entry **link = &settle->entries;

	while (*link != entry)
		link = &(*link)->next;
	*link = entry->next;
}

static void settle_wait_until(struct settle *settle, int64_t when_ms)
{
	struct timespec deadline = monotonic_timespec(when_ms);

	pthread_cond_timedwait(&settle->wake, &settle->lock, &deadline);
}

/* Sends one due entry, the lock let go meanwhile; gives it back to the list unless settled. */
static void settle_run_entry(struct settle *settle, struct settle_entry *entry)
{
	enum settle_result result;
	int64_t now_ms;

	settle_unlink(settle, entry);
	pthread_mutex_unlock(&settle->lock);
	result = settle_step(settle, entry);
	now_ms = monotonic_ms();
	if (result == SETTLE_AGAIN && now_ms >= entry->give_up_ms) {
		log_warning("%s: no answer to a failed create for %d minutes: it may have left a "
			    "token; the newest in `ls -lt` shows it",
			    entry->operation, SETTLE_BOUND_S / 60);
		result = SETTLE_DONE;
	}
	pthread_mutex_lock(&settle->lock);
	if (result == SETTLE_DONE) {
		settle_entry_free(entry);
		return;
	}
	entry->due_ms = now_ms + entry->pause_ms;
	entry->pause_ms =
	    entry->pause_ms * 2 < SETTLE_MAX_PAUSE_MS ? entry->pause_ms * 2 : SETTLE_MAX_PAUSE_MS;
	entry->next = settle->entries;
	settle->entries = entry;
}

static void *settle_run(void *data)
{
	struct settle *settle = data;
	struct settle_entry *entry;

	pthread_mutex_lock(&settle->lock);
	while (!settle->stopping) {
		entry = settle_first_due(settle);
		if (entry == NULL)
			pthread_cond_wait(&settle->wake, &settle->lock);
		else if (entry->due_ms > monotonic_ms())
			settle_wait_until(settle, entry->due_ms);
		else
			settle_run_entry(settle, entry);
	}
	pthread_mutex_unlock(&settle->lock);
	return NULL;
}

/* Lock held. */
static int settle_start(struct settle *settle)
{
	sigset_t all;
	sigset_t saved;
	int rc;

	if (settle->started)
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	rc = pthread_create(&settle->thread, NULL, settle_run, settle);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	settle->started = rc == 0;
	return rc;
}

struct settle *settle_new(struct http_pool *http, settle_revoke_fn revoke, void *revoke_user)
{
	struct settle *settle = calloc(1, sizeof(*settle));
	pthread_condattr_t attr;

	if (settle == NULL)
		return NULL;
	settle->http = http;
	settle->revoke = revoke;
	settle->revoke_user = revoke_user;
	pthread_mutex_init(&settle->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&settle->wake, &attr);
	pthread_condattr_destroy(&attr);
	return settle;
}

void settle_add(struct settle *settle, const char *operation, const char *idempotency_key,
		const char *body)
{
	struct settle_entry *entry = calloc(1, sizeof(*entry));
	int64_t now_ms = monotonic_ms();
	int rc = ENOMEM;

	if (entry != NULL) {
		entry->idempotency_key = strdup(idempotency_key);
		entry->body = strdup(body);
	}
	if (entry == NULL || entry->idempotency_key == NULL || entry->body == NULL)
		goto out_err;
	entry->operation = operation;
	entry->due_ms = now_ms + SETTLE_FIRST_PAUSE_MS;
	entry->pause_ms = SETTLE_FIRST_PAUSE_MS;
	entry->give_up_ms = now_ms + SETTLE_BOUND_S * 1000L;
	pthread_mutex_lock(&settle->lock);
	rc = settle_start(settle);
	if (rc == 0) {
		entry->next = settle->entries;
		settle->entries = entry;
		pthread_cond_signal(&settle->wake);
	}
	pthread_mutex_unlock(&settle->lock);
	if (rc != 0)
		goto out_err;
	log_info("%s: the outcome of the failed create is unknown: it is sent again in the "
		 "background until the service answers, and any token it made is revoked",
		 operation);
	return;
out_err:
	log_warning("%s: cannot settle the failed create: %s; it may have left a token", operation,
		    strerror(rc));
	if (entry != NULL)
		settle_entry_free(entry);
}

void settle_free(struct settle *settle)
{
	struct settle_entry *entry;
	size_t left = 0;

	if (settle == NULL)
		return;
	pthread_mutex_lock(&settle->lock);
	settle->stopping = true;
	pthread_cond_signal(&settle->wake);
	pthread_mutex_unlock(&settle->lock);
	if (settle->started)
		pthread_join(settle->thread, NULL);
	while ((entry = settle->entries) != NULL) {
		settle->entries = entry->next;
		settle_entry_free(entry);
		left++;
	}
	if (left > 0)
		log_warning("%zu failed creates were not settled before the end: each may have "
			    "left a token",
			    left);
	pthread_cond_destroy(&settle->wake);
	pthread_mutex_destroy(&settle->lock);
	free(settle);
}
