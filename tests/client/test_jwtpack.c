/* Token texts packed come back byte for byte, and a JWT's take a quarter less room. */
#include "jwtpack.h"
#include "secret.h"
#include "harness.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_texts_come_back_exactly(void)
{
	static const char *const texts[] = {
	    /* a JWT of the shape rerobots-tokend signs, parts of every length mod 4 */
	    ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImp0aSI6IjEifQ.c2lnbmF0dXJl"
	     "LWJ5dGVzLV8tXw"),
	    "AAAA.BBBBBB.CCCCCCC",
	    "ab.cd.ef", /* non-canonical: the last character has bits set that no byte needs */
	    "a.bc.de",	/* one character is no whole byte */
	    "a.b.c.d",	/* four parts */
	    "..",	/* empty parts */
	    "abc.def",	/* two parts */
	    "no jwt at all",
	    "ab+c.de/f.gh=",
	    "",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t length = strlen(texts[i]);
		char *packed = jwtpack_pack(texts[i], length);
		char *text = malloc(length + 1);

		check(texts[i], packed != NULL && text != NULL);
		if (packed != NULL && text != NULL) {
			jwtpack_unpack(packed, length, text);
			check(texts[i], strcmp(text, texts[i]) == 0);
		}
		free(text);
		secret_free(packed);
	}
}

static void test_a_jwt_takes_a_quarter_less(void)
{
	char text[3 * 200 + 3];
	size_t length;
	char *packed;

	memset(text, 'A', sizeof(text) - 1);
	text[200] = '.';
	text[401] = '.';
	text[sizeof(text) - 1] = '\0';
	length = strlen(text);
	packed = jwtpack_pack(text, length);
	/* 600 characters spell 450 bytes, and the header is 7; malloc may round up a little. */
	check("a JWT kept as its bytes",
	      packed != NULL && malloc_usable_size(packed) < 450 + 7 + 16);
	secret_free(packed);
}

int main(void)
{
	test_texts_come_back_exactly();
	test_a_jwt_takes_a_quarter_less();
	return harness_result();
}
