/*
 * Times as the tree shows them in `created` and `expires`: ISO 8601 in UTC,
 * "2026-11-28T16:42:37Z".
 */
#ifndef RR_COMMON_TIMEFMT_H
#define RR_COMMON_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Length of "YYYY-MM-DDTHH:MM:SSZ" without the terminating NUL. */
#define TIMEFMT_UTC_LENGTH 20

/* Writes the time (seconds since the Epoch) into buf; returns the length or -EINVAL. */
int timefmt_utc(int64_t seconds, char *buf, size_t size);

#endif
