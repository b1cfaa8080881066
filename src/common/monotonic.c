/* Monotonic milliseconds and the timespecs made from them; see monotonic.h. */
#include "monotonic.h"

int64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

struct timespec monotonic_timespec(int64_t ms)
{
	return (struct timespec){
	    .tv_sec = ms / 1000,
	    .tv_nsec = (ms % 1000) * 1000000,
	};
}

struct timespec monotonic_deadline(int64_t ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	return deadline;
}

void monotonic_sleep_ms(int64_t ms)
{
	struct timespec pause = monotonic_timespec(ms);

	nanosleep(&pause, NULL);
}
