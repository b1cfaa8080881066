/*
 * Duration names ("24h", "1h30m"): strict on purpose, since any mkdir name a
 * file manager invents ("Untitled Folder", "New Folder (2)") must be refused
 * without a request.
 */
#include "duration.h"

#include <errno.h>
#include <stddef.h>

struct duration_unit {
	char letter;
	int64_t seconds;
};

/* Largest first: a name must use them in this order, each at most once. */
static const struct duration_unit duration_units[] = {
    {'w', 7 * 24 * 3600}, {'d', 24 * 3600}, {'h', 3600}, {'m', 60}, {'s', 1},
};

#define DURATION_UNIT_COUNT (sizeof(duration_units) / sizeof(duration_units[0]))

static int duration_unit_index(char letter)
{
	for (size_t i = 0; i < DURATION_UNIT_COUNT; i++)
		if (duration_units[i].letter == letter)
			return (int)i;
	return -1;
}

int duration_parse(const char *text, int64_t *seconds)
{
	int64_t total = 0;
	int next_allowed_unit = 0;
	const char *p = text;

	if (text == NULL || *text == '\0')
		return -EINVAL;

	while (*p != '\0') {
		int64_t number = 0;
		const char *digits = p;

		while (*p >= '0' && *p <= '9') {
			int digit = *p - '0';

			if (number > (INT64_MAX - digit) / 10)
				return -EINVAL;
			number = number * 10 + digit;
			p++;
		}
		if (p == digits || number == 0)
			return -EINVAL;

		int unit = duration_unit_index(*p);
		if (unit < next_allowed_unit)
			return -EINVAL;
		if (number > INT64_MAX / duration_units[unit].seconds)
			return -EINVAL;
		number *= duration_units[unit].seconds;
		if (total > INT64_MAX - number)
			return -EINVAL;
		total += number;
		next_allowed_unit = unit + 1;
		p++;
	}

	*seconds = total;
	return 0;
}
