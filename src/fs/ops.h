/*
 * The FUSE request handlers, as the rest of the driver sees them: the
 * table for the session, the handlers' own state, and the bytes of a file
 * for the notification thread.
 */
#ifndef RR_FS_OPS_H
#define RR_FS_OPS_H

#include "fs.h"

/* The handlers' state for one mount; NULL without memory. */
struct ops_state *ops_state_new(void);
void ops_state_free(struct ops_state *state);

/* The operations table, for fuse_session_new(). */
const struct fuse_lowlevel_ops *ops_table(void);

/*
 * The bytes of file ino, for the notification thread to hand to the page
 * cache: 0 with *data to release with secret_free(), or -errno.
 */
int ops_file_content(struct fs *fs, const char *operation, fuse_ino_t ino, char **data,
		     size_t *length);

#endif
