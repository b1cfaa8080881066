/* Deadlines on CLOCK_MONOTONIC; see deadline.h. */
#include "deadline.h"

struct timespec deadline_in(int64_t ns)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(ns / DEADLINE_NS_PER_S);
	deadline.tv_nsec += (long)(ns % DEADLINE_NS_PER_S);
	if (deadline.tv_nsec >= DEADLINE_NS_PER_S) {
		deadline.tv_sec++;
		deadline.tv_nsec -= DEADLINE_NS_PER_S;
	}
	return deadline;
}

bool deadline_by(const struct timespec *deadline, const struct timespec *when)
{
	return deadline->tv_sec < when->tv_sec ||
	       (deadline->tv_sec == when->tv_sec && deadline->tv_nsec <= when->tv_nsec);
}
