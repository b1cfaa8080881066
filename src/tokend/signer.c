/*
 * RS256 signing and verification; see signer.h. OpenSSL makes and reads the
 * key, libjwt encodes and checks the tokens.
 */
#include "signer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "log.h"
#include "secret.h"

#define SIGNER_KEY_FILE_NAME "signing-key.pem"
#define SIGNER_KEY_BITS	     2048
#define SIGNER_JTI_BYTES     16

struct signer {
	char *private_pem;
	size_t private_length;
	char *public_pem;
	size_t public_length;
};

/* Writes a new key to a private temporary file and links it into place, so
 * that two processes creating the key at once both end up with the winner's. */
static int signer_create_key(const char *dir, const char *path)
{
	char *temporary = NULL;
	EVP_PKEY *key = NULL;
	FILE *file = NULL;
	int fd, err = -EIO;

	if (asprintf(&temporary, "%s/.%s.%ld", dir, SIGNER_KEY_FILE_NAME, (long)getpid()) < 0)
		return -ENOMEM;
	key = EVP_RSA_gen(SIGNER_KEY_BITS);
	if (key == NULL) {
		log_error("cannot generate an RSA key");
		goto out;
	}
	fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (file = fdopen(fd, "w")) == NULL) {
		log_error("%s: %s", temporary, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (PEM_write_PrivateKey(file, key, NULL, NULL, 0, NULL, NULL) != 1 || fflush(file) != 0 ||
	    fsync(fileno(file)) != 0) {
		log_error("%s: cannot write the key", temporary);
		goto out_unlink;
	}
	if (link(temporary, path) != 0 && errno != EEXIST) {
		log_error("%s: %s", path, strerror(errno));
		goto out_unlink;
	}
	err = 0;

out_unlink:
	unlink(temporary);
out:
	if (file != NULL)
		fclose(file);
	EVP_PKEY_free(key);
	free(temporary);
	return err;
}

static int signer_read_key(struct signer *signer, const char *path)
{
	struct stat status;
	FILE *file;
	int err = 0;

	file = fopen(path, "re");
	if (file == NULL) {
		log_error("%s: %s", path, strerror(errno));
		return -EIO;
	}
	if (fstat(fileno(file), &status) != 0 || (status.st_mode & 077) != 0) {
		log_error("%s: the signing key is readable by others; chmod 600 it", path);
		fclose(file);
		return -EACCES;
	}
	signer->private_pem = calloc(1, (size_t)status.st_size + 1);
	if (signer->private_pem == NULL) {
		err = -ENOMEM;
	} else {
		signer->private_length =
		    fread(signer->private_pem, 1, (size_t)status.st_size, file);
		if (signer->private_length != (size_t)status.st_size) {
			log_error("%s: short read", path);
			err = -EIO;
		}
	}
	fclose(file);
	return err;
}

/* libjwt verifies RS256 with the public key in PEM form. */
static int signer_derive_public_key(struct signer *signer)
{
	BIO *input = BIO_new_mem_buf(signer->private_pem, (int)signer->private_length);
	BIO *output = BIO_new(BIO_s_mem());
	EVP_PKEY *key = NULL;
	char *data;
	long length;
	int err = -EIO;

	if (input == NULL || output == NULL)
		goto out;
	key = PEM_read_bio_PrivateKey(input, NULL, NULL, NULL);
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		log_error("the signing key is not an RSA private key in PEM form");
		goto out;
	}
	if (PEM_write_bio_PUBKEY(output, key) != 1)
		goto out;
	length = BIO_get_mem_data(output, &data);
	signer->public_pem = malloc((size_t)length + 1);
	if (signer->public_pem == NULL) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(signer->public_pem, data, (size_t)length);
	signer->public_pem[length] = '\0';
	signer->public_length = (size_t)length;
	err = 0;
out:
	EVP_PKEY_free(key);
	BIO_free(input);
	BIO_free(output);
	return err;
}

int signer_open(const char *dir, struct signer **result)
{
	struct signer *signer = calloc(1, sizeof(*signer));
	char *path = NULL;
	int err = -ENOMEM;

	if (signer == NULL)
		return -ENOMEM;
	if (asprintf(&path, "%s/%s", dir, SIGNER_KEY_FILE_NAME) < 0) {
		path = NULL;
		goto out_err;
	}
	if (access(path, F_OK) != 0) {
		err = signer_create_key(dir, path);
		if (err < 0)
			goto out_err;
	}
	err = signer_read_key(signer, path);
	if (err < 0)
		goto out_err;
	err = signer_derive_public_key(signer);
	if (err < 0)
		goto out_err;
	free(path);
	*result = signer;
	return 0;

out_err:
	free(path);
	signer_close(signer);
	return err;
}

void signer_close(struct signer *signer)
{
	if (signer == NULL)
		return;
	secret_free(signer->private_pem);
	free(signer->public_pem);
	free(signer);
}

static int signer_make_jti(char *jti, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[SIGNER_JTI_BYTES];

	if (size < 2 * sizeof(bytes) + 1 || RAND_bytes(bytes, sizeof(bytes)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(bytes); i++) {
		jti[2 * i] = hex[bytes[i] >> 4];
		jti[2 * i + 1] = hex[bytes[i] & 0xf];
	}
	jti[2 * sizeof(bytes)] = '\0';
	return 0;
}

int signer_sign(struct signer *signer, const char *user, int64_t issued, int64_t expires,
		char **text)
{
	char jti[2 * SIGNER_JTI_BYTES + 1];
	jwt_t *jwt = NULL;
	char *encoded;
	int err = -EIO;

	if (signer_make_jti(jti, sizeof(jti)) < 0)
		return -EIO;
	if (jwt_new(&jwt) != 0)
		return -ENOMEM;
	if (jwt_add_grant(jwt, "iss", SIGNER_ISSUER) != 0 ||
	    jwt_add_grant(jwt, "aud", SIGNER_ISSUER) != 0 || jwt_add_grant(jwt, "sub", user) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)issued) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)expires) != 0 ||
	    jwt_add_grant(jwt, "jti", jti) != 0 ||
	    jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)signer->private_pem,
			(int)signer->private_length) != 0)
		goto out;
	encoded = jwt_encode_str(jwt);
	if (encoded == NULL)
		goto out;
	*text = encoded;
	err = 0;
out:
	jwt_free(jwt);
	return err;
}

static bool signer_claim_is(jwt_t *jwt, const char *claim, const char *expected)
{
	const char *value = jwt_get_grant(jwt, claim);

	return value != NULL && strcmp(value, expected) == 0;
}

int signer_verify(struct signer *signer, const char *text, int64_t now, char *user)
{
	jwt_t *jwt = NULL;
	const char *subject;
	long expires;
	int err = -EACCES;

	if (jwt_decode(&jwt, text, (const unsigned char *)signer->public_pem,
		       (int)signer->public_length) != 0)
		return -EACCES;
	/* jwt_decode trusts the header's alg; anything but RS256 (an HS256
	 * "signed" with our public key, or none) must not pass. */
	if (jwt_get_alg(jwt) != JWT_ALG_RS256)
		goto out;
	if (!signer_claim_is(jwt, "iss", SIGNER_ISSUER) ||
	    !signer_claim_is(jwt, "aud", SIGNER_ISSUER))
		goto out;
	errno = 0;
	expires = jwt_get_grant_int(jwt, "exp");
	if (errno != 0 || expires <= now)
		goto out;
	subject = jwt_get_grant(jwt, "sub");
	if (subject == NULL || subject[0] == '\0' || strlen(subject) > SIGNER_USER_MAX)
		goto out;
	strcpy(user, subject);
	err = 0;
out:
	jwt_free(jwt);
	return err;
}
