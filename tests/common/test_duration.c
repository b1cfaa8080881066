/* Every example and counter-example of the duration grammar of rerobotsfs(1). */
#include "duration.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

static int failures;

static void expect_seconds(const char *name, int64_t expected)
{
	int64_t seconds = -1;
	int rc = duration_parse(name, &seconds);

	if (rc != 0 || seconds != expected) {
		fprintf(stderr, "FAIL: \"%s\": rc=%d seconds=%" PRId64 ", expected %" PRId64 "\n",
			name, rc, seconds, expected);
		failures++;
	}
}

static void expect_invalid(const char *name)
{
	int64_t seconds = 12345;
	int rc = duration_parse(name, &seconds);

	if (rc != -EINVAL || seconds != 12345) {
		fprintf(stderr,
			"FAIL: \"%s\" should be EINVAL and leave the result alone (rc=%d)\n", name,
			rc);
		failures++;
	}
}

int main(void)
{
	expect_seconds("90s", 90);
	expect_seconds("30m", 1800);
	expect_seconds("24h", 86400);
	expect_seconds("1h30m", 5400);
	expect_seconds("7d", 604800);
	expect_seconds("2w", 1209600);
	expect_seconds("1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
	expect_seconds("1s", 1);
	expect_seconds("365d", 365 * 86400);
	expect_seconds("9223372036854775807s", INT64_MAX);

	expect_invalid("");
	expect_invalid("Untitled Folder");
	expect_invalid("New Folder");
	expect_invalid("24");
	expect_invalid("24H");
	expect_invalid("1m1h");
	expect_invalid("1h1h");
	expect_invalid("0h");
	expect_invalid("1h0m");
	expect_invalid("-1h");
	expect_invalid("+1h");
	expect_invalid("h");
	expect_invalid("1 h");
	expect_invalid(" 1h");
	expect_invalid("1h ");
	expect_invalid("1.5h");
	expect_invalid("1y");
	expect_invalid("9223372036854775808s");
	expect_invalid("9223372036854775807m");
	expect_invalid("15250284452472w");
	expect_invalid("9223372036854775807s1s");
	expect_invalid("99999999999999999999999h");

	if (failures > 0)
		return 1;
	printf("duration: all cases passed\n");
	return 0;
}
