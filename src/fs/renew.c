/*
 * The mount's own token; see renew.h.
 *
 * Once a second the thread looks at the token the client authenticates
 * with. For a token it has not seen yet (the first one, or one taken up
 * after a 401) it learns when it was made and when it expires from the
 * listing. With -o renew it makes the next token of the same lifetime at
 * two thirds of the current one's life, or an hour before it expires where
 * that comes first (see renew_due), and in this order: writes it to the token file
 * (atomically, see credential.c), switches the client to it, revokes the
 * old one. Whatever fails is logged and tried again with a growing pause;
 * a new token that could not be written is revoked again, so none is left
 * behind. The thread makes its requests through the client as any handler
 * does, but never from a request handler: a renewal takes as long as the
 * API takes.
 */
#include "renew.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "credential.h"
#include "log.h"
#include "monotonic.h"
#include "secret.h"
#include "thread.h"
#include "timefmt.h"
#include "token_id.h"

#define RENEW_TICK_SECONDS 1
#define RENEW_PAUSE_FIRST  1
#define RENEW_PAUSE_MAX	   300
#define RENEW_HOUR	   3600
#define RENEW_DAY	   (24 * RENEW_HOUR)
#define RENEW_ENVIRONMENT  "$REROBOTS_API_TOKEN"
#define RENEW_SHORT_ID	   12
/* How long after revoking the old token the kernel is told of it; see renew_retire. */
#define RENEW_REPORT_DELAY_MS 500

/* A failed step and when to try it again. */
struct renew_retry {
	int64_t next; /* seconds since the Epoch */
	int64_t pause;
};

struct renew {
	struct fs *fs;
	char *path; /* the token file; NULL for the environment */
	bool enabled;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;

	/* The token the 401 handler last said was rejected (the client calls it one at a time). */
	char rejected[RR_TOKEN_ID_LENGTH + 1];

	/* The rest is the thread's own. */
	struct rr_token current; /* the token the schedule is for */
	bool known;
	struct renew_retry learn;
	struct renew_retry renewal;
	bool warned_day;
	bool warned_hour;
	bool warned_expired;
	/* The token a renewal replaced, while its revocation is still to be confirmed. */
	struct rr_token retired;
	bool retiring;
	struct renew_retry retire;
};

static void renew_retry_reset(struct renew_retry *retry)
{
	retry->next = 0;
	retry->pause = RENEW_PAUSE_FIRST;
}

/* Schedules the next try, never later than half the time left before deadline. */
static int64_t renew_retry_later(struct renew_retry *retry, int64_t now, int64_t deadline)
{
	int64_t pause = retry->pause;

	if (deadline > now && pause > (deadline - now) / 2)
		pause = (deadline - now) / 2;
	if (pause < 1)
		pause = 1;
	retry->next = now + pause;
	retry->pause = retry->pause * 2 < RENEW_PAUSE_MAX ? retry->pause * 2 : RENEW_PAUSE_MAX;
	return pause;
}

static void renew_time_text(int64_t when, char *text, size_t size)
{
	if (timefmt_utc(when, text, size) < 0)
		snprintf(text, size, "%lld", (long long)when);
}

/* What a person can do about a token that is about to expire, or has. */
static const char *renew_hint(const struct renew *renew, char *text, size_t size)
{
	if (renew->path == NULL)
		snprintf(text, size, "mount again with a new token in " RENEW_ENVIRONMENT);
	else
		snprintf(text, size,
			 "write a new token to %s (the mount takes it up once the API rejects "
			 "the old one), or mount with -o renew",
			 renew->path);
	return text;
}

/* The 401 handler: takes up another token from the token file, if it holds one. */
static void renew_token_rejected(void *data)
{
	struct renew *renew = data;
	struct rr_client *client = renew->fs->client;
	char id[RR_TOKEN_ID_LENGTH + 1];
	char new_id[RR_TOKEN_ID_LENGTH + 1];
	char *token;
	int rc;

	rr_client_own_id(client, id);
	if (renew->path == NULL) {
		if (strcmp(renew->rejected, id) != 0)
			log_error(
			    "the API rejected the mount's token %.*s... from " RENEW_ENVIRONMENT
			    ", which cannot be read again; mount again with a new token",
			    RENEW_SHORT_ID, id);
		memcpy(renew->rejected, id, sizeof(id));
		return;
	}
	token = credential_read(renew->path);
	if (token == NULL)
		return;
	if (token_id_compute(token, strlen(token), new_id) != 0 || strcmp(new_id, id) == 0) {
		if (strcmp(renew->rejected, id) != 0)
			log_error(
			    "the API rejected the mount's token %.*s..., and %s still holds it; "
			    "write a new token there and the mount takes it up",
			    RENEW_SHORT_ID, id, renew->path);
		memcpy(renew->rejected, id, sizeof(id));
		secret_free(token);
		return;
	}
	rc = rr_client_set_token(client, token);
	secret_free(token);
	if (rc < 0) {
		log_error(
		    "the API rejected the mount's token %.*s...; cannot switch to the new one "
		    "in %s: %s",
		    RENEW_SHORT_ID, id, renew->path, strerror(-rc));
		return;
	}
	log_warning("the API rejected the mount's token %.*s...; switched to token %.*s... "
		    "from %s",
		    RENEW_SHORT_ID, id, RENEW_SHORT_ID, new_id, renew->path);
	pthread_mutex_lock(&renew->lock);
	pthread_cond_signal(&renew->wake);
	pthread_mutex_unlock(&renew->lock);
}

/* Learns when the token the client now uses was made and expires; false until it knows. */
static bool renew_learn(struct renew *renew, const char *id, int64_t now)
{
	struct rr_token token;
	int rc;

	if (renew->known && strcmp(renew->current.id, id) == 0)
		return true;
	if (now < renew->learn.next)
		return false;
	rc = rr_client_token_get(renew->fs->client, "renew", id, &token);
	if (rc != 0) {
		log_warning("cannot learn when the mount's token %.*s... expires: %s; trying "
			    "again in %lld s",
			    RENEW_SHORT_ID, id, strerror(-rc),
			    (long long)renew_retry_later(&renew->learn, now, 0));
		return false;
	}
	renew->current = token;
	renew->known = true;
	renew->warned_day = false;
	renew->warned_hour = false;
	renew->warned_expired = false;
	renew_retry_reset(&renew->learn);
	renew_retry_reset(&renew->renewal);
	return true;
}

/* Waits ms milliseconds, or less when the thread is stopped. */
static void renew_pause(struct renew *renew, long ms)
{
	struct timespec deadline = monotonic_deadline(ms);

	pthread_mutex_lock(&renew->lock);
	if (!renew->stopping)
		pthread_cond_timedwait(&renew->wake, &renew->lock, &deadline);
	pthread_mutex_unlock(&renew->lock);
}

/*
 * Revokes the token a renewal replaced; once it has expired there is
 * nothing left to do. No rmdir told the kernel, so the client is asked to
 * report it as revoked elsewhere, but only a moment later: a reader that
 * listed the root just before (a shell expanding a glob of the tokens)
 * still opens the old token's file from the kernel's caches, where an
 * immediate report would have it fail ENOENT. The root's listing itself
 * leaves the token at once.
 */
static void renew_retire(struct renew *renew, int64_t now)
{
	const struct rr_token *old = &renew->retired;
	int rc;

	if (!renew->retiring || now < renew->retire.next)
		return;
	rc = rr_client_token_revoke(renew->fs->client, "renew", old->id);
	if (rc == 0) {
		renew_pause(renew, RENEW_REPORT_DELAY_MS);
		rr_client_report_gone(renew->fs->client, old->id);
	}
	if (rc == 0 || rc == -ENOENT || (old->expires != 0 && now >= old->expires)) {
		renew->retiring = false;
		return;
	}
	log_warning("cannot revoke the mount's old token %.*s... yet: %s; trying again in %lld s",
		    RENEW_SHORT_ID, old->id, strerror(-rc),
		    (long long)renew_retry_later(&renew->retire, now, old->expires));
}

/* Revokes a token just made that the mount will not use, so that none is left behind. */
static void renew_discard(struct renew *renew, const struct rr_token *made)
{
	int rc = rr_client_token_revoke(renew->fs->client, "renew", made->id);

	if (rc == 0)
		rr_client_report_gone(renew->fs->client, made->id);
	if (rc != 0 && rc != -ENOENT)
		log_error("the new token %.*s... could not be used and cannot be revoked: %s; "
			  "it expires by itself",
			  RENEW_SHORT_ID, made->id, strerror(-rc));
}

/* Makes the next token, writes it to the file, switches to it; 0 or a negative errno. */
static int renew_once(struct renew *renew, int64_t now)
{
	struct rr_client *client = renew->fs->client;
	struct rr_token made;
	char until[TIMEFMT_UTC_LENGTH + 1];
	char *text;
	size_t length;
	int rc;

	rc = rr_client_token_create(client, "renew",
				    renew->current.expires - renew->current.created, &made);
	if (rc != 0)
		return rc;
	rc = rr_client_token_text(client, "renew", made.id, &text, &length);
	if (rc != 0) {
		renew_discard(renew, &made);
		return rc;
	}
	if (credential_store(renew->path, text, length) != 0) {
		secret_free(text);
		renew_discard(renew, &made);
		return -EIO;
	}
	rc = rr_client_set_token(client, text);
	secret_free(text);
	if (rc < 0) {
		/* The file holds the new token, which stays; the old one is still in use. */
		log_error("cannot switch to the new token %.*s...: %s", RENEW_SHORT_ID, made.id,
			  strerror(-rc));
		return rc;
	}
	renew_time_text(made.expires, until, sizeof(until));
	log_info("renewed the mount's token: %s holds token %.*s..., valid until %s; revoking "
		 "the old one, %.*s...",
		 renew->path, RENEW_SHORT_ID, made.id, until, RENEW_SHORT_ID, renew->current.id);
	renew->retired = renew->current;
	renew->retiring = true;
	renew_retry_reset(&renew->retire);
	renew_retire(renew, now);
	renew->current = made;
	renew->warned_day = false;
	renew->warned_hour = false;
	renew_retry_reset(&renew->renewal);
	return 0;
}

/*
 * At two thirds of the token's life, or an hour before it expires where
 * that comes first. For a token of less than two hours an hour before is
 * before half its life, or before it was even made: two thirds it is then.
 */
static int64_t renew_due(const struct rr_token *token)
{
	int64_t life = token->expires - token->created;
	int64_t two_thirds = token->created + life * 2 / 3;
	int64_t hour_before = token->expires - RENEW_HOUR;

	if (hour_before < two_thirds && hour_before >= token->created + life / 2)
		return hour_before;
	return two_thirds;
}

static void renew_expired(struct renew *renew)
{
	char when[TIMEFMT_UTC_LENGTH + 1];
	char hint[512];

	if (renew->warned_expired)
		return;
	renew->warned_expired = true;
	renew_time_text(renew->current.expires, when, sizeof(when));
	log_error("the mount's token %.*s... expired at %s; %s", RENEW_SHORT_ID, renew->current.id,
		  when, renew_hint(renew, hint, sizeof(hint)));
}

static void renew_when_due(struct renew *renew, int64_t now)
{
	int64_t pause;
	int rc;

	if (now >= renew->current.expires) {
		renew_expired(renew);
		return;
	}
	if (now < renew_due(&renew->current) || now < renew->renewal.next)
		return;
	rc = renew_once(renew, now);
	if (rc == 0)
		return;
	pause = renew_retry_later(&renew->renewal, now, renew->current.expires);
	log_warning("renewing the mount's token %.*s... failed: %s; trying again in %lld s",
		    RENEW_SHORT_ID, renew->current.id, strerror(-rc), (long long)pause);
}

/* Without renewal: a warning a day before the token expires, another an hour before. */
static void renew_warn(struct renew *renew, int64_t now)
{
	int64_t left = renew->current.expires - now;
	char when[TIMEFMT_UTC_LENGTH + 1];
	char hint[512];

	if (left <= 0) {
		renew_expired(renew);
		return;
	}
	if (left > RENEW_DAY || renew->warned_hour || (left > RENEW_HOUR && renew->warned_day))
		return;
	renew->warned_day = true;
	renew->warned_hour = left <= RENEW_HOUR;
	renew_time_text(renew->current.expires, when, sizeof(when));
	log_warning("the mount's token %.*s... expires within %s, at %s; %s", RENEW_SHORT_ID,
		    renew->current.id, left <= RENEW_HOUR ? "the hour" : "a day", when,
		    renew_hint(renew, hint, sizeof(hint)));
}

static void renew_tick(struct renew *renew, int64_t now)
{
	char id[RR_TOKEN_ID_LENGTH + 1];

	renew_retire(renew, now);
	rr_client_own_id(renew->fs->client, id);
	if (!renew_learn(renew, id, now) || renew->current.expires == 0)
		return;
	if (renew->enabled && renew->path != NULL)
		renew_when_due(renew, now);
	else
		renew_warn(renew, now);
}

static void *renew_run(void *data)
{
	struct renew *renew = data;
	struct timespec deadline;

	pthread_mutex_lock(&renew->lock);
	while (!renew->stopping) {
		pthread_mutex_unlock(&renew->lock);
		renew_tick(renew, (int64_t)time(NULL));
		pthread_mutex_lock(&renew->lock);
		if (renew->stopping)
			break;
		deadline = monotonic_deadline((int64_t)RENEW_TICK_SECONDS * 1000);
		/* A spurious wakeup, or the 401 handler's, only makes one round early. */
		pthread_cond_timedwait(&renew->wake, &renew->lock, &deadline);
	}
	pthread_mutex_unlock(&renew->lock);
	return NULL;
}

struct renew *renew_start(struct fs *fs, const char *path, bool enabled)
{
	struct renew *renew = calloc(1, sizeof(*renew));
	pthread_condattr_t attr;
	int rc;

	if (renew == NULL || (path != NULL && (renew->path = strdup(path)) == NULL)) {
		log_error("cannot start the renewal thread: out of memory");
		free(renew);
		return NULL;
	}
	renew->fs = fs;
	renew->enabled = enabled;
	renew_retry_reset(&renew->learn);
	renew_retry_reset(&renew->renewal);
	pthread_mutex_init(&renew->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&renew->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (enabled && path == NULL)
		log_warning("renew: the mount's token comes from " RENEW_ENVIRONMENT
			    ", which has no file to write a new token to: it is not renewed");
	rc = thread_create(&renew->thread, renew_run, renew);
	if (rc != 0) {
		log_error("cannot start the renewal thread: %s", strerror(rc));
		pthread_cond_destroy(&renew->wake);
		pthread_mutex_destroy(&renew->lock);
		free(renew->path);
		free(renew);
		return NULL;
	}
	rr_client_on_token_rejected(fs->client, renew_token_rejected, renew);
	return renew;
}

void renew_stop(struct renew *renew)
{
	if (renew == NULL)
		return;
	/* Waits for a handler call in progress; none comes after. */
	rr_client_on_token_rejected(renew->fs->client, NULL, NULL);
	pthread_mutex_lock(&renew->lock);
	renew->stopping = true;
	pthread_cond_signal(&renew->wake);
	pthread_mutex_unlock(&renew->lock);
	pthread_join(renew->thread, NULL);
	pthread_cond_destroy(&renew->wake);
	pthread_mutex_destroy(&renew->lock);
	free(renew->path);
	free(renew);
}
