/* Arrays that grow by doubling; see grow.h. */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

void *grow_array(void *items, size_t *capacity, size_t needed, size_t item_size,
		 size_t first_capacity)
{
	size_t grown = *capacity ? *capacity : first_capacity;

	if (needed <= *capacity)
		return items;
	while (grown < needed) {
		if (grown > SIZE_MAX / 2)
			return NULL;
		grown *= 2;
	}
	if (grown > SIZE_MAX / item_size)
		return NULL;
	items = realloc(items, grown * item_size);
	if (items != NULL)
		*capacity = grown;
	return items;
}
