/*
 * The mount's own token over the mount's life. When the API rejects it
 * (401), the token file is read again and a new token found there is taken
 * up at once: rotation without remounting. With -o renew the driver makes
 * the next token itself before the current one expires, writes it to the
 * token file and revokes the old one; without it, the log warns a day and
 * an hour before the token expires. See rerobotsfs(1), "THE MOUNT'S TOKEN".
 */
#ifndef RR_FS_RENEW_H
#define RR_FS_RENEW_H

#include <stdbool.h>

#include "fs.h"

struct renew;

/*
 * Starts the thread on a mounted session whose client checked its token.
 * path is the token file (absolute), or NULL when the token came from
 * $REROBOTS_API_TOKEN; enabled is -o renew. NULL after logging why.
 */
struct renew *renew_start(struct fs *fs, const char *path, bool enabled);

/* Stops and joins the thread; a renewal under way is finished first. */
void renew_stop(struct renew *renew);

#endif
