/* rerobotsfs(1), Making a token: every example and counter-example of the duration grammar. */
#include "duration.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "harness.h"

static void expect_seconds(const char *name, int64_t expected)
{
	int64_t seconds = -1;
	int rc = duration_parse(name, &seconds);
	char seen[96];

	if (rc != 0 || seconds != expected) {
		snprintf(seen, sizeof(seen), "rc=%d seconds=%" PRId64 ", expected %" PRId64, rc,
			 seconds, expected);
		fail(name, seen);
	}
}

static void expect_invalid(const char *name)
{
	int64_t seconds = 12345;
	int rc = duration_parse(name, &seconds);
	char seen[80];

	if (rc != -EINVAL || seconds != 12345) {
		snprintf(seen, sizeof(seen), "should be EINVAL and leave the result alone (rc=%d)",
			 rc);
		fail(name, seen);
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

	return harness_result();
}
