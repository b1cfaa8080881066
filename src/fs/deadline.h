/*
 * Deadlines on CLOCK_MONOTONIC, for the driver's threads to wait on with
 * pthread_cond_timedwait (their condition variables use that clock): a
 * change of the wall clock neither wakes them early nor keeps them asleep.
 */
#ifndef RR_FS_DEADLINE_H
#define RR_FS_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define DEADLINE_NS_PER_MS 1000000L
#define DEADLINE_NS_PER_S  1000000000L

/* The deadline ns nanoseconds from now. */
struct timespec deadline_in(int64_t ns);

/* Whether deadline comes no later than when. */
bool deadline_by(const struct timespec *deadline, const struct timespec *when);

#endif
