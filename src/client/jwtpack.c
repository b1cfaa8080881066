/* Token texts kept as the bytes of their base64url parts; see jwtpack.h. */
#include "jwtpack.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"

#define JWTPACK_RAW	 0
#define JWTPACK_JWT	 1
#define JWTPACK_PARTS	 3
#define JWTPACK_HEADER	 (1 + 2 * JWTPACK_PARTS)
#define JWTPACK_PART_MAX 0xffff

static const char jwtpack_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int jwtpack_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	return c == '_' ? 63 : -1;
}

/* Bytes that n base64url characters (no padding) encode. */
static size_t jwtpack_decoded_size(size_t n)
{
	return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

/* Decodes n characters into out; false for a character or a length no encoder makes. */
static bool jwtpack_decode(const char *in, size_t n, unsigned char *out)
{
	uint32_t bits = 0;
	int held = 0;

	if (n % 4 == 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		int value = jwtpack_value(in[i]);

		if (value < 0)
			return false;
		bits = bits << 6 | (uint32_t)value;
		held += 6;
		if (held >= 8) {
			held -= 8;
			*out++ = (unsigned char)(bits >> held);
		}
	}
	return true;
}

/* Encodes size bytes into text; returns the end of what it wrote. */
static char *jwtpack_encode(const unsigned char *in, size_t size, char *text)
{
	uint32_t bits = 0;
	int held = 0;

	for (size_t i = 0; i < size; i++) {
		bits = bits << 8 | in[i];
		held += 8;
		while (held >= 6) {
			held -= 6;
			*text++ = jwtpack_alphabet[(bits >> held) & 0x3f];
		}
	}
	if (held > 0)
		*text++ = jwtpack_alphabet[(bits << (6 - held)) & 0x3f];
	return text;
}

static size_t jwtpack_characters(const unsigned char *packed, int part)
{
	return packed[1 + 2 * part] | (size_t)packed[2 + 2 * part] << 8;
}

/* The size of a packed buffer. */
static size_t jwtpack_size(const char *packed, size_t text_length)
{
	size_t size = JWTPACK_HEADER;

	if (packed[0] == JWTPACK_RAW)
		return 1 + text_length;
	for (int part = 0; part < JWTPACK_PARTS; part++)
		size +=
		    jwtpack_decoded_size(jwtpack_characters((const unsigned char *)packed, part));
	return size;
}

void jwtpack_unpack(const char *packed, size_t text_length, char *text)
{
	const unsigned char *bytes = (const unsigned char *)packed + JWTPACK_HEADER;

	if (packed[0] == JWTPACK_RAW) {
		memcpy(text, packed + 1, text_length);
		text[text_length] = '\0';
		return;
	}
	for (int part = 0; part < JWTPACK_PARTS; part++) {
		size_t size =
		    jwtpack_decoded_size(jwtpack_characters((const unsigned char *)packed, part));

		if (part > 0)
			*text++ = '.';
		text = jwtpack_encode(bytes, size, text);
		bytes += size;
	}
	*text = '\0';
}

/*
 * Writes a JWT's three parts, decoded, after the header of packed (room for
 * length bytes after it); false if text is not a JWT.
 */
static bool jwtpack_pack_jwt(const char *text, size_t length, unsigned char *packed)
{
	unsigned char *bytes = packed + JWTPACK_HEADER;
	size_t start = 0;

	packed[0] = JWTPACK_JWT;
	for (int part = 0; part < JWTPACK_PARTS; part++) {
		const char *dot = memchr(text + start, '.', length - start);
		size_t end = part == JWTPACK_PARTS - 1 ? length : dot ? (size_t)(dot - text) : 0;
		size_t n = end - start;

		if (end <= start || n > JWTPACK_PART_MAX ||
		    (part == JWTPACK_PARTS - 1 && dot != NULL) ||
		    !jwtpack_decode(text + start, n, bytes))
			return false;
		packed[1 + 2 * part] = (unsigned char)(n & 0xff);
		packed[2 + 2 * part] = (unsigned char)(n >> 8);
		bytes += jwtpack_decoded_size(n);
		start = end + 1;
	}
	return true;
}

char *jwtpack_pack(const char *text, size_t length)
{
	char *scratch = malloc(length + JWTPACK_HEADER + 1);
	char *check = malloc(length + 1);
	char *packed = NULL;
	size_t size;

	if (scratch == NULL || check == NULL)
		goto out;
	/* Only a text that unpacks to itself is kept packed (no non-canonical encoding). */
	if (jwtpack_pack_jwt(text, length, (unsigned char *)scratch)) {
		jwtpack_unpack(scratch, length, check);
		if (memcmp(check, text, length) != 0)
			scratch[0] = JWTPACK_RAW;
	} else {
		scratch[0] = JWTPACK_RAW;
	}
	if (scratch[0] == JWTPACK_RAW)
		memcpy(scratch + 1, text, length);
	size = jwtpack_size(scratch, length);
	packed = malloc(size);
	if (packed != NULL)
		memcpy(packed, scratch, size);
out:
	secret_free(scratch);
	secret_free(check);
	return packed;
}
