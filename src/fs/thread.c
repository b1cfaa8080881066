/*
 * Threads of the driver's own; see thread.h.
 *
 * libfuse's signal handlers end the session loop only when the signal
 * interrupts the main thread's wait, and libfuse blocks these signals in its
 * own worker threads for that reason. A thread of ours that took SIGTERM
 * would leave the loop running, so it blocks them too; threads inherit the
 * mask of their creator.
 */
#include "thread.h"

#include <signal.h>

int thread_create(pthread_t *thread, void *(*run)(void *), void *data)
{
	sigset_t blocked;
	sigset_t saved;
	int rc;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGHUP);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGQUIT);
	sigaddset(&blocked, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &blocked, &saved);
	rc = pthread_create(thread, NULL, run, data);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return rc;
}
