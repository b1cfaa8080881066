/*
 * Requests per hour per token, in fixed windows: a window opens with a
 * token's first request and resets an hour later, the time that
 * X-RateLimit-Reset announces.
 */
#ifndef RR_TOKEND_RATELIMIT_H
#define RR_TOKEND_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define RATELIMIT_WINDOW_SECONDS 3600

struct ratelimit_window {
	pthread_mutex_t lock;
	int64_t reset;
	long used;
};

/* What the X-RateLimit-* headers say after a request was counted. */
struct ratelimit_state {
	long limit;
	long remaining;
	int64_t reset;
	bool allowed;
};

void ratelimit_init(struct ratelimit_window *window);

void ratelimit_destroy(struct ratelimit_window *window);

/* Counts one request against limit per hour; state->allowed is false once credit is gone. */
void ratelimit_take(struct ratelimit_window *window, long limit, int64_t now,
		    struct ratelimit_state *state);

#endif
