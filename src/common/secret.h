/*
 * Memory that may hold token text: wiped before it is freed, so that a
 * later core dump or a reused heap block cannot show it. One technique for
 * every such block, whoever allocated it with malloc(): the whole block,
 * as malloc_usable_size() tells, is wiped, so no size need be carried.
 * Blocks never move with realloc(), which would leave an unwiped copy.
 */
#ifndef RR_COMMON_SECRET_H
#define RR_COMMON_SECRET_H

#include <stddef.h>

/* Copies length bytes of text into a new NUL-terminated buffer; NULL when out of memory. */
char *secret_dup(const char *text, size_t length);

/* Wipes and frees a block from malloc() (secret_dup(), or a library's); NULL is left alone. */
void secret_free(void *block);

/*
 * realloc() for a library's allocator (libcurl's): a block that moves is
 * wiped where it was, and the tail a block gives back is wiped.
 */
void *secret_realloc(void *block, size_t size);

/*
 * Makes room for needed bytes in *buffer, whose first length bytes are
 * kept: the capacity doubles from first_capacity, the old block wiped and
 * freed. 0, -ENOMEM, or -EIO when needed is past max (nothing changed).
 */
int secret_reserve(char **buffer, size_t length, size_t *capacity, size_t needed,
		   size_t first_capacity, size_t max);

#endif
