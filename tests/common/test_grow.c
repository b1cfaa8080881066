/* Arrays that grow by doubling (grow.h): room when needed, nothing moved when not. */
#include "grow.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int failures;

static void expect(const char *name, int passed)
{
	if (!passed) {
		fprintf(stderr, "FAIL: %s\n", name);
		failures++;
	}
}

int main(void)
{
	size_t capacity = 0;
	int *items = grow_array(NULL, &capacity, 1, sizeof(*items), 8);
	int *same;

	expect("the first capacity", items != NULL && capacity == 8);
	items[7] = 7;
	same = grow_array(items, &capacity, 8, sizeof(*items), 8);
	expect("room enough: the same array", same == items && capacity == 8);
	items = grow_array(items, &capacity, 9, sizeof(*items), 8);
	expect("doubles, keeping the items", items != NULL && capacity == 16 && items[7] == 7);
	items = grow_array(items, &capacity, 100, sizeof(*items), 8);
	expect("doubles until it fits", items != NULL && capacity == 128);
	same = grow_array(items, &capacity, SIZE_MAX / 2, sizeof(*items), 8);
	expect("too large: NULL, the capacity kept", same == NULL && capacity == 128);
	free(items);
	return failures == 0 ? 0 : 1;
}
