/* Arrays that grow by doubling (grow.h): room when needed, nothing moved when not. */
#include "grow.h"
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	size_t capacity = 0;
	int *items = grow_array(NULL, &capacity, 1, sizeof(*items), 8);
	int *same;

	check("the first capacity", items != NULL && capacity == 8);
	items[7] = 7;
	same = grow_array(items, &capacity, 8, sizeof(*items), 8);
	check("room enough: the same array", same == items && capacity == 8);
	items = grow_array(items, &capacity, 9, sizeof(*items), 8);
	check("doubles, keeping the items", items != NULL && capacity == 16 && items[7] == 7);
	items = grow_array(items, &capacity, 100, sizeof(*items), 8);
	check("doubles until it fits", items != NULL && capacity == 128);
	same = grow_array(items, &capacity, SIZE_MAX / 2, sizeof(*items), 8);
	check("too large: NULL, the capacity kept", same == NULL && capacity == 128);
	free(items);
	return harness_result();
}
