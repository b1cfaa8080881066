/*
 * A token's id: the 64 lowercase hex digits of the SHA-256 of its text, the
 * value the rerobots API already uses in POST /revoke/:sha256.
 */
#ifndef RR_COMMON_TOKEN_ID_H
#define RR_COMMON_TOKEN_ID_H

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_ID_LENGTH 64
/* An id as the 32 bytes of the digest its hex digits spell: half the memory, same order. */
#define TOKEN_ID_BYTES (TOKEN_ID_LENGTH / 2)

/* Writes the id of the token text into id (TOKEN_ID_LENGTH + 1 bytes); returns 0. */
int token_id_compute(const char *text, size_t length, char *id);

/*
 * True when text looks like a JWT: base64url characters in three parts
 * joined by two dots, the first two not empty. Nothing else may go into an
 * Authorization header, where a CR or LF would start a header of its own.
 */
bool token_text_is_jwt(const char *text, size_t length);

/* True when name is exactly 64 lowercase hexadecimal digits. */
bool token_id_is_valid(const char *name);

/* The bytes a valid id spells; false (bytes unspecified) when id is not a valid id. */
bool token_id_to_bytes(const char *id, unsigned char *bytes);

/* Writes the id that TOKEN_ID_BYTES bytes spell into id (TOKEN_ID_LENGTH + 1 bytes). */
void token_id_from_bytes(const unsigned char *bytes, char *id);

#endif
