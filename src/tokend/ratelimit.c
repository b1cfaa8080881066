/* Fixed-window request counting per key; see ratelimit.h. */
#include "ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RATELIMIT_BUCKETS 1024
/* Windows kept before the first sweep of finished ones. */
#define RATELIMIT_SWEEP_MIN 1024

struct ratelimit_window {
	struct ratelimit_window *next;
	int64_t reset;
	long used;
	char key[];
};

struct ratelimit_table {
	pthread_mutex_t lock;
	size_t count;
	/* Sweeps when count reaches it; twice what a sweep left, so sweeps stay rare. */
	size_t sweep_at;
	struct ratelimit_window *buckets[RATELIMIT_BUCKETS];
};

int ratelimit_table_new(struct ratelimit_table **result)
{
	struct ratelimit_table *table = calloc(1, sizeof(*table));

	if (table == NULL)
		return -ENOMEM;
	pthread_mutex_init(&table->lock, NULL);
	table->sweep_at = RATELIMIT_SWEEP_MIN;
	*result = table;
	return 0;
}

void ratelimit_table_free(struct ratelimit_table *table)
{
	if (table == NULL)
		return;
	for (size_t i = 0; i < RATELIMIT_BUCKETS; i++) {
		struct ratelimit_window *window = table->buckets[i];

		while (window != NULL) {
			struct ratelimit_window *next = window->next;

			free(window);
			window = next;
		}
	}
	pthread_mutex_destroy(&table->lock);
	free(table);
}

/* FNV-1a of the key. */
static struct ratelimit_window **ratelimit_bucket(struct ratelimit_table *table, const char *key)
{
	uint32_t hash = 2166136261u;

	for (const unsigned char *c = (const unsigned char *)key; *c != '\0'; c++)
		hash = (hash ^ *c) * 16777619u;
	return &table->buckets[hash % RATELIMIT_BUCKETS];
}

/* Drops the windows whose hour is over; the caller holds table->lock. */
static void ratelimit_sweep(struct ratelimit_table *table, int64_t now)
{
	for (size_t i = 0; i < RATELIMIT_BUCKETS; i++) {
		struct ratelimit_window **link = &table->buckets[i];

		while (*link != NULL) {
			struct ratelimit_window *window = *link;

			if (now < window->reset) {
				link = &window->next;
				continue;
			}
			*link = window->next;
			free(window);
			table->count--;
		}
	}
	table->sweep_at =
	    table->count * 2 > RATELIMIT_SWEEP_MIN ? table->count * 2 : RATELIMIT_SWEEP_MIN;
}

/* The window of key, made where missing when create is set; the caller holds table->lock. */
static struct ratelimit_window *ratelimit_find(struct ratelimit_table *table, const char *key,
					       int64_t now, bool create)
{
	struct ratelimit_window **bucket = ratelimit_bucket(table, key);
	struct ratelimit_window *window;
	size_t length;

	for (window = *bucket; window != NULL; window = window->next)
		if (strcmp(window->key, key) == 0)
			return window;
	if (!create)
		return NULL;
	if (table->count >= table->sweep_at)
		ratelimit_sweep(table, now);
	length = strlen(key);
	window = calloc(1, sizeof(*window) + length + 1);
	if (window == NULL)
		return NULL;
	memcpy(window->key, key, length + 1);
	window->next = *bucket;
	*bucket = window;
	table->count++;
	return window;
}

static void ratelimit_report(const struct ratelimit_window *window, long limit, int64_t now,
			     struct ratelimit_state *state)
{
	bool current = window != NULL && now < window->reset;
	long used = current ? window->used : 0;

	state->limit = limit;
	state->remaining = used < limit ? limit - used : 0;
	state->reset = current ? window->reset : now + RATELIMIT_WINDOW_SECONDS;
}

int ratelimit_take(struct ratelimit_table *table, const char *key, long limit, int64_t now,
		   struct ratelimit_state *state)
{
	struct ratelimit_window *window;
	int err = 0;

	pthread_mutex_lock(&table->lock);
	window = ratelimit_find(table, key, now, true);
	if (window == NULL) {
		err = -ENOMEM;
		state->allowed = false;
	} else {
		if (now >= window->reset) {
			window->reset = now + RATELIMIT_WINDOW_SECONDS;
			window->used = 0;
		}
		state->allowed = window->used < limit;
		if (state->allowed)
			window->used++;
	}
	ratelimit_report(window, limit, now, state);
	pthread_mutex_unlock(&table->lock);
	return err;
}

void ratelimit_peek(struct ratelimit_table *table, const char *key, long limit, int64_t now,
		    struct ratelimit_state *state)
{
	struct ratelimit_window *window;

	pthread_mutex_lock(&table->lock);
	window = ratelimit_find(table, key, now, false);
	ratelimit_report(window, limit, now, state);
	state->allowed = state->remaining > 0;
	pthread_mutex_unlock(&table->lock);
}
