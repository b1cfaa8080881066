/*
 * The C unit tests' harness: every rule is checked, a rule broken is
 * printed with what was seen and counted, and the program's exit status
 * (harness_result) says whether any was, so that one run shows every
 * failure at once.
 */
#ifndef RR_TESTS_HARNESS_H
#define RR_TESTS_HARNESS_H

#include <stdbool.h>
#include <stdio.h>

static int harness_failures;

/* Reports rule as broken, with what was seen. */
static inline void fail(const char *rule, const char *seen)
{
	fprintf(stderr, "FAIL: %s: %s\n", rule, seen);
	harness_failures++;
}

/* Reports rule as broken unless ok. */
static inline void check(const char *rule, bool ok)
{
	if (!ok) {
		fprintf(stderr, "FAIL: %s\n", rule);
		harness_failures++;
	}
}

/* The exit status for main: 1 after saying how many rules broke, else 0. */
static inline int harness_result(void)
{
	if (harness_failures > 0) {
		fprintf(stderr, "%d failures\n", harness_failures);
		return 1;
	}
	return 0;
}

#endif
