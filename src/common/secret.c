/* Allocation helpers for token text; see secret.h. */
#include "secret.h"

#include <stdlib.h>
#include <string.h>

char *secret_dup(const char *text, size_t length)
{
	char *copy = malloc(length + 1);

	if (copy == NULL)
		return NULL;
	memcpy(copy, text, length);
	copy[length] = '\0';
	return copy;
}

void secret_free(char *text)
{
	if (text == NULL)
		return;
	explicit_bzero(text, strlen(text));
	free(text);
}
