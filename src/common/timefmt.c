/* ISO 8601 UTC formatting for the `created` and `expires` files. */
#include "timefmt.h"

#include <errno.h>
#include <time.h>

int timefmt_utc(int64_t seconds, char *buf, size_t size)
{
	time_t t = (time_t)seconds;
	struct tm tm;
	size_t length;

	if (gmtime_r(&t, &tm) == NULL)
		return -EINVAL;
	length = strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (length == 0)
		return -EINVAL;
	return (int)length;
}
