/* Memory for token text (secret.h): copies, growth and moves keep every byte, and limits hold. */
#include "secret.h"
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void test_dup(void)
{
	char *copy = secret_dup("a.b.cdef", 5);

	check("dup: the bytes given, then NUL", copy != NULL && strcmp(copy, "a.b.c") == 0);
	secret_free(copy);
	secret_free(NULL);
}

static void test_reserve(void)
{
	char *buffer = NULL;
	size_t capacity = 0;

	check("reserve: the first capacity",
	      secret_reserve(&buffer, 0, &capacity, 10, 16, 1024) == 0 && capacity == 16);
	memcpy(buffer, "0123456789", 10);
	check("reserve: doubles until it fits",
	      secret_reserve(&buffer, 10, &capacity, 40, 16, 1024) == 0 && capacity == 64);
	check("reserve: keeps the bytes", memcmp(buffer, "0123456789", 10) == 0);
	check("reserve: past the limit, nothing changes",
	      secret_reserve(&buffer, 10, &capacity, 2000, 16, 1024) == -EIO && capacity == 64);
	check("reserve: enough room, nothing to do",
	      secret_reserve(&buffer, 10, &capacity, 64, 16, 1024) == 0 && capacity == 64);
	secret_free(buffer);
}

static void test_realloc(void)
{
	char *block = secret_realloc(NULL, 8);

	check("realloc: NULL allocates", block != NULL);
	memcpy(block, "abcdefgh", 8);
	block = secret_realloc(block, 4096);
	check("realloc: a move keeps the bytes",
	      block != NULL && memcmp(block, "abcdefgh", 8) == 0);
	block = secret_realloc(block, 4);
	check("realloc: shrinking keeps the start", block != NULL && memcmp(block, "abcd", 4) == 0);
	secret_free(block);
}

int main(void)
{
	test_dup();
	test_reserve();
	test_realloc();
	return harness_result();
}
