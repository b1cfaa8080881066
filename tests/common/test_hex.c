/* Lowercase hexadecimal (hex.h) and monotonic time (monotonic.h): each rule once. */
#include "hex.h"
#include "monotonic.h"
#include "harness.h"

#include <stdio.h>
#include <string.h>

static void test_hex_encode_is_lowercase(void)
{
	const unsigned char bytes[] = {0x00, 0x9f, 0xa0, 0xff};
	char text[2 * sizeof(bytes) + 1];

	memset(text, 'x', sizeof(text));
	hex_encode(bytes, sizeof(bytes), text);
	check("encode: two lowercase digits a byte, then NUL", strcmp(text, "009fa0ff") == 0);
}

static void test_hex_decode_round_trip(void)
{
	unsigned char bytes[4];

	check("decode: lowercase digits", hex_decode("009fa0ff", bytes, sizeof(bytes)) &&
					      bytes[0] == 0x00 && bytes[1] == 0x9f &&
					      bytes[2] == 0xa0 && bytes[3] == 0xff);
}

static void test_hex_decode_refuses(void)
{
	unsigned char bytes[2];

	check("decode: uppercase refused", !hex_decode("AB12", bytes, sizeof(bytes)));
	check("decode: not a digit refused", !hex_decode("0g12", bytes, sizeof(bytes)));
	check("decode: a short text refused at its NUL", !hex_decode("ab", bytes, sizeof(bytes)));
	check("decode: an odd length refused", !hex_decode("abc", bytes, sizeof(bytes)));
}

static void test_monotonic(void)
{
	int64_t before = monotonic_ms();
	struct timespec at = monotonic_timespec(1234567);
	struct timespec deadline = monotonic_deadline(1999);
	int64_t deadline_ms = (int64_t)deadline.tv_sec * 1000 + deadline.tv_nsec / 1000000;

	check("timespec: seconds and nanoseconds", at.tv_sec == 1234 && at.tv_nsec == 567000000);
	check("deadline: nanoseconds normalized",
	      deadline.tv_nsec >= 0 && deadline.tv_nsec < 1000000000);
	check("deadline: ms from now", deadline_ms >= before + 1999 && deadline_ms < before + 3000);
	monotonic_sleep_ms(20);
	check("sleep: the clock moves on", monotonic_ms() - before >= 20);
}

int main(void)
{
	test_hex_encode_is_lowercase();
	test_hex_decode_round_trip();
	test_hex_decode_refuses();
	test_monotonic();
	return harness_result();
}
