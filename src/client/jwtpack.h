/*
 * Token texts as the cache keeps them. Texts are most of the cache's memory
 * (a 556-byte JWT each), and a JWT's three base64url parts spell a quarter
 * fewer bytes than they have characters: a text is kept as those bytes,
 * about 420, which is what holds the daemon under 700 bytes a token (see
 * bench/RESULTS.md). A text that is no JWT, or that would not come back
 * byte for byte (a non-canonical encoding), is kept as it is.
 *
 * A packed text starts with its kind: JWTPACK_RAW, then the text; or
 * JWTPACK_JWT, then the character lengths of the three parts (2 bytes each,
 * little-endian), then the bytes each part encodes, one after another.
 * Every buffer here holds token text: each is freed with secret_free().
 */
#ifndef RR_CLIENT_JWTPACK_H
#define RR_CLIENT_JWTPACK_H

#include <stddef.h>

/* text (length bytes) packed, in a buffer of its own to secret_free(); NULL without memory. */
char *jwtpack_pack(const char *text, size_t length);

/* Writes the text packed holds (text_length bytes, then a NUL) into text. */
void jwtpack_unpack(const char *packed, size_t text_length, char *text);

#endif
