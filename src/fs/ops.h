/*
 * The FUSE request handlers, as the rest of the driver sees them: the
 * table for the session and the handlers' own state.
 */
#ifndef RR_FS_OPS_H
#define RR_FS_OPS_H

#include "fs.h"

/* The handlers' state for one mount; NULL without memory. */
struct ops_state *ops_state_new(void);
void ops_state_free(struct ops_state *state);

/* The operations table, for fuse_session_new(). */
const struct fuse_lowlevel_ops *ops_table(void);

#endif
