/* Memory that may hold token text; see secret.h. */
#include "secret.h"

#include <errno.h>
#include <malloc.h>
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

void secret_free(void *block)
{
	if (block == NULL)
		return;
	explicit_bzero(block, malloc_usable_size(block));
	free(block);
}

void *secret_realloc(void *block, size_t size)
{
	size_t old_size;
	void *moved;

	if (block == NULL)
		return malloc(size);
	old_size = malloc_usable_size(block);
	if (size <= old_size) {
		explicit_bzero((char *)block + size, old_size - size);
		return block;
	}
	moved = malloc(size);
	if (moved == NULL)
		return NULL;
	memcpy(moved, block, old_size);
	secret_free(block);
	return moved;
}

int secret_reserve(char **buffer, size_t length, size_t *capacity, size_t needed,
		   size_t first_capacity, size_t max)
{
	size_t grown = *capacity ? *capacity : first_capacity;
	char *bigger;

	if (needed <= *capacity)
		return 0;
	while (grown < needed)
		grown *= 2;
	if (grown > max)
		return -EIO;
	bigger = malloc(grown);
	if (bigger == NULL)
		return -ENOMEM;
	if (*buffer != NULL) {
		memcpy(bigger, *buffer, length);
		secret_free(*buffer);
	}
	*buffer = bigger;
	*capacity = grown;
	return 0;
}
