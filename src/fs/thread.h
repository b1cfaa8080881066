/*
 * How the driver starts a thread of its own (notification, renewal): with
 * the signals that end the session loop blocked, as libfuse's own workers
 * have them.
 */
#ifndef RR_FS_THREAD_H
#define RR_FS_THREAD_H

#include <pthread.h>

/* pthread_create, with SIGHUP, SIGINT, SIGQUIT and SIGTERM blocked in the new thread. */
int thread_create(pthread_t *thread, void *(*run)(void *), void *data);

#endif
