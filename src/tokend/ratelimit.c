/* Fixed-window request counting; see ratelimit.h. */
#include "ratelimit.h"

void ratelimit_init(struct ratelimit_window *window)
{
	pthread_mutex_init(&window->lock, NULL);
	window->reset = 0;
	window->used = 0;
}

void ratelimit_destroy(struct ratelimit_window *window)
{
	pthread_mutex_destroy(&window->lock);
}

void ratelimit_take(struct ratelimit_window *window, long limit, int64_t now,
		    struct ratelimit_state *state)
{
	pthread_mutex_lock(&window->lock);
	if (now >= window->reset) {
		window->reset = now + RATELIMIT_WINDOW_SECONDS;
		window->used = 0;
	}
	state->allowed = window->used < limit;
	if (state->allowed)
		window->used++;
	state->limit = limit;
	state->remaining = limit - window->used;
	state->reset = window->reset;
	pthread_mutex_unlock(&window->lock);
}
