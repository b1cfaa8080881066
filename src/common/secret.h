/*
 * Token text in memory: wiped before it is freed, so that a later core dump
 * or a reused heap block cannot show it.
 */
#ifndef RR_COMMON_SECRET_H
#define RR_COMMON_SECRET_H

#include <stddef.h>

/* Copies length bytes of text into a new NUL-terminated buffer; NULL when out of memory. */
char *secret_dup(const char *text, size_t length);

/* Wipes and frees a string made by secret_dup (or any NUL-terminated heap string). */
void secret_free(char *text);

#endif
