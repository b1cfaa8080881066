/*
 * Time on CLOCK_MONOTONIC in milliseconds, the clock of every timeout,
 * retry and deadline in the project: the wall clock may jump, and a token's
 * freshness or a retry's pause must not jump with it. Condition variables
 * that wait for such a deadline are made with pthread_condattr_setclock(...,
 * CLOCK_MONOTONIC).
 */
#ifndef RR_COMMON_MONOTONIC_H
#define RR_COMMON_MONOTONIC_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t monotonic_ms(void);

/* A time in monotonic milliseconds as the timespec pthread_cond_timedwait() takes. */
struct timespec monotonic_timespec(int64_t ms);

/* The monotonic time ms milliseconds from now, as a timespec. */
struct timespec monotonic_deadline(int64_t ms);

/* Sleeps for ms milliseconds (a signal may cut it short). */
void monotonic_sleep_ms(int64_t ms);

#endif
