/*
 * The data directory and what the service trusts in it.
 *
 *     $ chmod g+w /var/lib/rerobots-tokend
 *     $ rerobots-tokend --data /var/lib/rerobots-tokend --listen 127.0.0.1:8080
 *     rerobots-tokend: /var/lib/rerobots-tokend: writable by others; chmod go-w
 * /var/lib/rerobots-tokend
 *
 * Whoever can write the directory can plant a symbolic link where the
 * service writes (and turn the signing key into a file they read) or swap
 * the database; whoever can read the database or the key holds every
 * token. So the directory must be the service user's (or root's) and
 * writable by it alone, and so must every directory above it (unless
 * sticky, as /tmp), and each file in it a regular file of the service
 * user that others can neither write nor read. Files are opened relative
 * to the checked directory, never through a symbolic link.
 */
#ifndef RR_TOKEND_DATADIR_H
#define RR_TOKEND_DATADIR_H

#include <stdbool.h>

#define DATADIR_DATABASE    "tokens.db"
#define DATADIR_SIGNING_KEY "signing-key.pem"

/*
 * Makes dir (mode 0700) where missing, then checks it and every file the
 * service keeps there. Logs one line saying what to fix and returns
 * -EACCES for what it refuses; nothing is created in dir before that.
 */
int datadir_prepare(const char *dir);

/* Opens dir (O_DIRECTORY) into *fd after checking it as datadir_prepare does. */
int datadir_open(const char *dir, int *fd);

/*
 * Checks the file name in the directory dir_fd (named dir in messages):
 * 0 when it is missing or a regular file of ours that only we may read
 * and write; -EACCES (logged, with the fix) otherwise.
 */
int datadir_check_file(int dir_fd, const char *dir, const char *name);

#endif
