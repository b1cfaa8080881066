/*
 * A thread that calls one function at a fixed interval until it is
 * stopped: how the store backends watch for other writers and prune dead
 * rows while the service runs.
 */
#ifndef RR_TOKEND_TICKER_H
#define RR_TOKEND_TICKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct ticker {
	void (*tick)(void *argument);
	void *argument;
	int64_t interval_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wakeup;
	bool running;
	bool stopping;
};

/*
 * Starts calling tick(argument) every interval_ms, the first time one
 * interval from now; what names the thread in the log line of a failure.
 * 0, or a negative errno after logging why.
 */
int ticker_start(struct ticker *ticker, int64_t interval_ms, void (*tick)(void *argument),
		 void *argument, const char *what);

/* Stops the thread after the call it may be in; a ticker never started is left alone. */
void ticker_stop(struct ticker *ticker);

#endif
