/*
 * Arrays that grow by doubling: the one loop behind the cache's entries
 * and queues, the changes recorded during a listing and the idle curl
 * handles. (Buffers that may hold token text grow with secret_reserve()
 * instead, which never leaves an unwiped copy behind.)
 */
#ifndef RR_COMMON_GROW_H
#define RR_COMMON_GROW_H

#include <stddef.h>

/*
 * Makes room for needed items of item_size in items (capacity of them),
 * doubling from first_capacity. Returns the array, maybe moved, with
 * *capacity updated; NULL without memory (items and *capacity unchanged).
 */
void *grow_array(void *items, size_t *capacity, size_t needed, size_t item_size,
		 size_t first_capacity);

#endif
