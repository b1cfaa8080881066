/*
 * The API token the mount authenticates with, found where SPEC 2.6 says:
 * the file of -o token_file, else $REROBOTS_API_TOKEN, else
 * ~/.rerobots/jwt.txt. It is never taken from the command line.
 */
#ifndef RR_FS_CREDENTIAL_H
#define RR_FS_CREDENTIAL_H

/*
 * Returns the token with surrounding white space trimmed, to be released
 * with secret_free(), or NULL after saying why on stderr. Either way
 * $REROBOTS_API_TOKEN is wiped and removed from the environment, so that
 * no child (libfuse runs fusermount3) inherits it.
 */
char *credential_load(const char *token_file);

#endif
