/*
 * SHA-256 token ids, and their 32-byte form. The digest is Nettle's: the
 * driver's libcurl already loads Nettle through GnuTLS, while OpenSSL's
 * EVP would bring its providers and configuration into the driver for one
 * hash (0.5 MiB of resident pages).
 */
#include "token_id.h"

#include <stdint.h>
#include <string.h>

#include <nettle/sha2.h>

#include "hex.h"

_Static_assert(SHA256_DIGEST_SIZE == TOKEN_ID_BYTES, "an id is a SHA-256 digest");

int token_id_compute(const char *text, size_t length, char *id)
{
	struct sha256_ctx context;
	unsigned char digest[SHA256_DIGEST_SIZE];

	sha256_init(&context);
	sha256_update(&context, length, (const uint8_t *)text);
	sha256_digest(&context, sizeof(digest), digest);
	token_id_from_bytes(digest, id);
	return 0;
}

bool token_id_to_bytes(const char *id, unsigned char *bytes)
{
	return hex_decode(id, bytes, TOKEN_ID_BYTES) && id[TOKEN_ID_LENGTH] == '\0';
}

void token_id_from_bytes(const unsigned char *bytes, char *id)
{
	hex_encode(bytes, TOKEN_ID_BYTES, id);
}

bool token_id_is_valid(const char *name)
{
	unsigned char bytes[TOKEN_ID_BYTES];

	return token_id_to_bytes(name, bytes);
}

bool token_text_is_jwt(const char *text, size_t length)
{
	size_t part_length = 0;
	int dots = 0;

	for (size_t i = 0; i < length; i++) {
		char c = text[i];

		if (c == '.') {
			if (part_length == 0 || ++dots > 2)
				return false;
			part_length = 0;
		} else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_') {
			part_length++;
		} else {
			return false;
		}
	}
	return dots == 2;
}
