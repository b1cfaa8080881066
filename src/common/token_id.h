/*
 * A token's id: the 64 lowercase hex digits of the SHA-256 of its text, the
 * value the rerobots API already uses in POST /revoke/:sha256.
 */
#ifndef RR_COMMON_TOKEN_ID_H
#define RR_COMMON_TOKEN_ID_H

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_ID_LENGTH 64

/* Writes the id of the token text into id (TOKEN_ID_LENGTH + 1 bytes); 0 or -EIO. */
int token_id_compute(const char *text, size_t length, char *id);

/* True when name is exactly 64 lowercase hexadecimal digits. */
bool token_id_is_valid(const char *name);

#endif
