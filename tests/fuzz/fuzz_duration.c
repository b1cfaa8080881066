/*
 * libFuzzer target: duration_parse, the grammar every mkdir name and the
 * service's --duration go through. Besides not crashing, an accepted name
 * must be made of digits and unit letters only and give a positive total.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	int64_t seconds = 0;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* A name is a C string: what follows a NUL is not part of it. */
	if (duration_parse(text, &seconds) == 0) {
		if (seconds <= 0 || strspn(text, "0123456789smhdw") != strlen(text))
			abort();
	}
	free(text);
	return 0;
}
