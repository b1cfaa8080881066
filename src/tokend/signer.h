/*
 * The tokens themselves: JWTs signed with RS256 by the key in
 * DIR/signing-key.pem (made on first use, mode 0600) or in the database
 * (with PostgreSQL, shared by every replica), carrying iss and aud
 * "rerobots.net", sub (the user), iat, exp and a random jti.
 */
#ifndef RR_TOKEND_SIGNER_H
#define RR_TOKEND_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#define SIGNER_ISSUER "rerobots.net"

/* Longest user name the service accepts (the JWT sub). */
#define SIGNER_USER_MAX 64

struct signer;

/* Loads the key in dir, creating it where missing; safe against a second process doing the same. */
int signer_open(const char *dir, struct signer **signer);

/* Uses the key pem (PKCS#8 or PKCS#1 PEM of an RSA private key), kept elsewhere. */
int signer_open_pem(const char *pem, size_t length, struct signer **signer);

/* Makes a new key in PEM form into *pem, freed with secret_free. */
int signer_make_pem(char **pem, size_t *length);

void signer_close(struct signer *signer);

/* Makes a token; *text is freed with secret_free. 0, -ENOMEM or -EIO. */
int signer_sign(struct signer *signer, const char *user, int64_t issued, int64_t expires,
		char **text);

/*
 * Checks a bearer token: our RS256 signature, iss, aud, and exp after now.
 * On success copies its sub into user (SIGNER_USER_MAX + 1 bytes) and
 * returns 0; anything else is -EACCES.
 */
int signer_verify(struct signer *signer, const char *text, int64_t now, char *user);

#endif
