/*
 * Single flights: one request however many threads ask for the same thing
 * at once. The listing has one flight (GET /tokens, all its pages); each
 * token read alone has its own (GET /token/ID). A thread that finds a
 * flight on its way waits for it to land and takes its result.
 *
 * Not locked by itself: every call is made with the client's mutex held,
 * the one the flights' condition variable waits with; the request itself
 * is made with the mutex let go.
 */
#ifndef RR_CLIENT_FLIGHT_H
#define RR_CLIENT_FLIGHT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "decode.h"
#include "rerobots/client.h"

/* One GET /token/ID in flight; freed by the last of its owner and waiters. */
struct flight_text {
	struct flight_text *next;
	char id[RR_TOKEN_ID_LENGTH + 1];
	bool done;
	int result;
	unsigned users;
	/* On success: the token, its text a secret copy the flight owns. */
	struct decoded_token token;
};

struct flights {
	pthread_mutex_t *lock; /* the client's */
	pthread_cond_t landed; /* broadcast whenever any flight lands */
	struct flight_text *texts;
	bool listing_in_flight;
	uint64_t listing_generation; /* bumped when the listing flight lands */
	int listing_result;
	/* Local creates and revokes while the listing is in flight; see cache_replace(). */
	struct cache_change *changes;
	size_t change_count;
	size_t change_capacity;
};

void flight_init(struct flights *flights, pthread_mutex_t *lock);
void flight_destroy(struct flights *flights);

/* The listing flight takes off: changes are recorded from now until it lands. */
void flight_listing_begin(struct flights *flights);
/* The listing flight lands with result; waiters wake. */
void flight_listing_land(struct flights *flights, int result);
/* Waits for the listing flight in the air to land; returns its result. */
int flight_listing_wait(struct flights *flights);

/*
 * Records a local create or revoke that the listing now in flight may not
 * show yet; nothing when none is in flight. Without memory the change is
 * lost, and the next listing shows the truth.
 */
void flight_record_change(struct flights *flights, const char *id, bool created);

/*
 * The flight of GET /token/id: either one in the air, which this waits for
 * (*owner false, and the flight's result is in its result), or a new one
 * that the caller must make and then land (*owner true). NULL without
 * memory. Every flight returned is released with flight_text_release().
 */
struct flight_text *flight_text_join(struct flights *flights, const char *id, bool *owner);

/* Keeps a copy of token (and its text) in the flight; 0 or -ENOMEM. */
int flight_text_keep(struct flight_text *flight, const struct decoded_token *token);

/* The owner lands its flight with result; waiters wake. */
void flight_text_land(struct flights *flights, struct flight_text *flight, int result);

void flight_text_release(struct flight_text *flight);

#endif
