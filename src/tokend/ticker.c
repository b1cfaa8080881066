/* A thread calling one function at a fixed interval; see ticker.h. */
#include "ticker.h"

#include <string.h>
#include <time.h>

#include "log.h"
#include "monotonic.h"

static void *ticker_run(void *argument)
{
	struct ticker *ticker = argument;
	struct timespec wakeup;

	pthread_mutex_lock(&ticker->lock);
	while (!ticker->stopping) {
		wakeup = monotonic_deadline(ticker->interval_ms);
		/* A spurious wakeup only makes one call early. */
		pthread_cond_timedwait(&ticker->wakeup, &ticker->lock, &wakeup);
		if (ticker->stopping)
			break;
		pthread_mutex_unlock(&ticker->lock);
		ticker->tick(ticker->argument);
		pthread_mutex_lock(&ticker->lock);
	}
	pthread_mutex_unlock(&ticker->lock);
	return NULL;
}

int ticker_start(struct ticker *ticker, int64_t interval_ms, void (*tick)(void *argument),
		 void *argument, const char *what)
{
	pthread_condattr_t attributes;
	int err;

	memset(ticker, 0, sizeof(*ticker));
	ticker->tick = tick;
	ticker->argument = argument;
	ticker->interval_ms = interval_ms;
	pthread_mutex_init(&ticker->lock, NULL);
	pthread_condattr_init(&attributes);
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	pthread_cond_init(&ticker->wakeup, &attributes);
	pthread_condattr_destroy(&attributes);
	err = pthread_create(&ticker->thread, NULL, ticker_run, ticker);
	if (err != 0) {
		pthread_cond_destroy(&ticker->wakeup);
		pthread_mutex_destroy(&ticker->lock);
		log_error("database: cannot start the %s thread: %s", what, strerror(err));
		return -err;
	}
	ticker->running = true;
	return 0;
}

void ticker_stop(struct ticker *ticker)
{
	if (!ticker->running)
		return;
	pthread_mutex_lock(&ticker->lock);
	ticker->stopping = true;
	pthread_cond_signal(&ticker->wakeup);
	pthread_mutex_unlock(&ticker->lock);
	pthread_join(ticker->thread, NULL);
	pthread_cond_destroy(&ticker->wakeup);
	pthread_mutex_destroy(&ticker->lock);
	ticker->running = false;
}
