/*
 * Requests per hour per key (a user, or a client address), in fixed
 * windows: a key's window opens with its first request and resets an hour
 * later, the time that X-RateLimit-Reset announces.
 *
 * A table holds the windows of its keys. Windows whose hour is over are
 * dropped as the table grows, so it holds about the keys of the last hour.
 */
#ifndef RR_TOKEND_RATELIMIT_H
#define RR_TOKEND_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RATELIMIT_WINDOW_SECONDS 3600

struct ratelimit_table;

/* What the X-RateLimit-* headers say after a request was counted. */
struct ratelimit_state {
	long limit;
	long remaining;
	int64_t reset;
	bool allowed;
};

int ratelimit_table_new(struct ratelimit_table **table);

void ratelimit_table_free(struct ratelimit_table *table);

/*
 * Counts one request of key against limit per hour; state->allowed is
 * false once credit is gone. -ENOMEM (state->allowed false) when a new
 * key found no memory.
 */
int ratelimit_take(struct ratelimit_table *table, const char *key, long limit, int64_t now,
		   struct ratelimit_state *state);

/* Like ratelimit_take, without counting: whether key has credit left. */
void ratelimit_peek(struct ratelimit_table *table, const char *key, long limit, int64_t now,
		    struct ratelimit_state *state);

#endif
