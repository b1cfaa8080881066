/*
 * The API token the mount authenticates with, found where rerobotsfs(1) says:
 * the file of -o token_file, else $REROBOTS_API_TOKEN, else
 * ~/.rerobots/jwt.txt. It is never taken from the command line.
 */
#ifndef RR_FS_CREDENTIAL_H
#define RR_FS_CREDENTIAL_H

#include <stddef.h>

/*
 * Returns the token with surrounding white space trimmed, to be released
 * with secret_free(), or NULL after saying why on stderr. Either way
 * $REROBOTS_API_TOKEN is wiped and removed from the environment, so that
 * no child (libfuse runs fusermount3) inherits it. *path is the file the
 * token came from as an absolute path (the driver's working directory
 * changes when it daemonizes), to be freed; NULL for the environment.
 */
char *credential_load(const char *token_file, char **path);

/* The token in the file at path, read with the same checks; NULL after logging why. */
char *credential_read(const char *path);

/*
 * Replaces the file at path (or the file its symlink names) with token and
 * a newline, atomically: a reader sees the old token or the new one, never
 * a mix or nothing. The new file is 0600 and has the owner of the old one.
 * Returns 0, or -1 after logging why; the old file is then left as it was.
 */
int credential_store(const char *path, const char *token, size_t length);

#endif
