/* SHA-256 token ids through OpenSSL's EVP interface. */
#include "token_id.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

int token_id_compute(const char *text, size_t length, char *id)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_length = 0;

	if (EVP_Digest(text, length, digest, &digest_length, EVP_sha256(), NULL) != 1 ||
	    digest_length * 2 != TOKEN_ID_LENGTH)
		return -EIO;
	for (unsigned int i = 0; i < digest_length; i++) {
		id[2 * i] = hex[digest[i] >> 4];
		id[2 * i + 1] = hex[digest[i] & 0xf];
	}
	id[TOKEN_ID_LENGTH] = '\0';
	return 0;
}

bool token_id_is_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		if (i >= TOKEN_ID_LENGTH)
			return false;
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	}
	return i == TOKEN_ID_LENGTH;
}
