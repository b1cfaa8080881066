/*
 * The duration grammar of rerobotsfs(1) ("Making a token"), shared by the
 * driver (mkdir names) and the service (--duration, --max-duration): one or
 * more groups of a positive decimal number and a unit (s, m, h, d, w), the
 * largest unit first, e.g. "90s", "1h30m", "2w".
 */
#ifndef RR_COMMON_DURATION_H
#define RR_COMMON_DURATION_H

#include <stdint.h>

/* Returns 0 and stores the total in *seconds, or -EINVAL for anything else. */
int duration_parse(const char *text, int64_t *seconds);

#endif
