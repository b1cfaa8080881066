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

#include "datadir.h"
#include "log.h"
#include "secret.h"

#define SIGNER_KEY_BITS	 2048
#define SIGNER_JTI_BYTES 16

struct signer {
	char *private_pem;
	size_t private_length;
	char *public_pem;
	size_t public_length;
};

/*
 * Opens a new file for the key under a random name: O_EXCL and O_NOFOLLOW,
 * so that nothing planted there (a symbolic link to a file others read)
 * receives it.
 */
static int signer_open_temporary(int dir_fd, char *name, size_t size)
{
	unsigned char random[8];
	int fd;

	if (RAND_bytes(random, sizeof(random)) != 1)
		return -EIO;
	snprintf(name, size, ".%s.%02x%02x%02x%02x%02x%02x%02x%02x", DATADIR_SIGNING_KEY, random[0],
		 random[1], random[2], random[3], random[4], random[5], random[6], random[7]);
	fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

/* Writes a new key to a private temporary file and links it into place, so
 * that two processes creating the key at once both end up with the winner's. */
static int signer_create_key(int dir_fd, const char *dir)
{
	char temporary[sizeof(DATADIR_SIGNING_KEY) + 32];
	EVP_PKEY *key = NULL;
	FILE *file = NULL;
	int fd, err = -EIO;

	key = EVP_RSA_gen(SIGNER_KEY_BITS);
	if (key == NULL) {
		log_error("cannot generate an RSA key");
		return -EIO;
	}
	fd = signer_open_temporary(dir_fd, temporary, sizeof(temporary));
	if (fd < 0 || (file = fdopen(fd, "w")) == NULL) {
		log_error("%s: cannot make a file for the signing key: %s", dir,
			  strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (PEM_write_PrivateKey(file, key, NULL, NULL, 0, NULL, NULL) != 1 || fflush(file) != 0 ||
	    fsync(fileno(file)) != 0) {
		log_error("%s/%s: cannot write the key", dir, temporary);
		goto out_unlink;
	}
	/* linkat never follows a link at the new name: where anything is there, EEXIST. */
	if (linkat(dir_fd, temporary, dir_fd, DATADIR_SIGNING_KEY, 0) != 0 && errno != EEXIST) {
		log_error("%s/%s: %s", dir, DATADIR_SIGNING_KEY, strerror(errno));
		goto out_unlink;
	}
	err = 0;

out_unlink:
	unlinkat(dir_fd, temporary, 0);
out:
	if (file != NULL)
		fclose(file);
	EVP_PKEY_free(key);
	return err;
}

static int signer_read_key(struct signer *signer, int dir_fd, const char *dir)
{
	struct stat status;
	FILE *file;
	int fd, err;

	err = datadir_check_file(dir_fd, dir, DATADIR_SIGNING_KEY);
	if (err < 0)
		return err;
	fd = openat(dir_fd, DATADIR_SIGNING_KEY, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (file = fdopen(fd, "r")) == NULL) {
		log_error("%s/%s: %s", dir, DATADIR_SIGNING_KEY, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	if (fstat(fileno(file), &status) != 0) {
		log_error("%s/%s: %s", dir, DATADIR_SIGNING_KEY, strerror(errno));
		fclose(file);
		return -EIO;
	}
	signer->private_pem = calloc(1, (size_t)status.st_size + 1);
	if (signer->private_pem == NULL) {
		err = -ENOMEM;
	} else {
		signer->private_length =
		    fread(signer->private_pem, 1, (size_t)status.st_size, file);
		if (signer->private_length != (size_t)status.st_size) {
			log_error("%s/%s: short read", dir, DATADIR_SIGNING_KEY);
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
	int dir_fd = -1, err;

	if (signer == NULL)
		return -ENOMEM;
	err = datadir_open(dir, &dir_fd);
	if (err < 0)
		goto out_err;
	if (faccessat(dir_fd, DATADIR_SIGNING_KEY, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
		err = signer_create_key(dir_fd, dir);
		if (err < 0)
			goto out_err;
	}
	err = signer_read_key(signer, dir_fd, dir);
	if (err < 0)
		goto out_err;
	err = signer_derive_public_key(signer);
	if (err < 0)
		goto out_err;
	close(dir_fd);
	*result = signer;
	return 0;

out_err:
	if (dir_fd >= 0)
		close(dir_fd);
	signer_close(signer);
	return err;
}

int signer_open_pem(const char *pem, size_t length, struct signer **result)
{
	struct signer *signer = calloc(1, sizeof(*signer));
	int err;

	if (signer == NULL)
		return -ENOMEM;
	signer->private_pem = secret_dup(pem, length);
	signer->private_length = length;
	err = signer->private_pem == NULL ? -ENOMEM : signer_derive_public_key(signer);
	if (err < 0) {
		signer_close(signer);
		return err;
	}
	*result = signer;
	return 0;
}

int signer_make_pem(char **pem, size_t *length)
{
	EVP_PKEY *key = EVP_RSA_gen(SIGNER_KEY_BITS);
	BIO *output = BIO_new(BIO_s_mem());
	char *data;
	long size;
	int err = -EIO;

	if (key == NULL || output == NULL) {
		log_error("cannot generate an RSA key");
		goto out;
	}
	if (PEM_write_bio_PrivateKey(output, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	size = BIO_get_mem_data(output, &data);
	*pem = secret_dup(data, (size_t)size);
	*length = (size_t)size;
	err = *pem == NULL ? -ENOMEM : 0;
out:
	/* The memory BIO held the private key: wipe it before it is freed. */
	if (output != NULL && BIO_get_mem_data(output, &data) > 0)
		explicit_bzero(data, (size_t)BIO_get_mem_data(output, &data));
	BIO_free(output);
	EVP_PKEY_free(key);
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
