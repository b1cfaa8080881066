/*
 * Lowercase hexadecimal, the one spelling of bytes as text: token ids,
 * Idempotency-Keys. Uppercase digits are refused, so that one byte string
 * has one spelling and ids compare with strcmp.
 */
#ifndef RR_COMMON_HEX_H
#define RR_COMMON_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the 2 * count digits of bytes and a NUL into text (2 * count + 1 bytes). */
void hex_encode(const unsigned char *bytes, size_t count, char *text);

/*
 * Reads the 2 * count lowercase digits at the start of text into bytes;
 * false (bytes unspecified) at the first character that is not one.
 */
bool hex_decode(const char *text, unsigned char *bytes, size_t count);

#endif
