/*
 * The notification thread's own VFS calls on the mount (rmdir, mkdir,
 * renameat2 of a token's entry in the root), and the answers the request
 * handlers give them: open views learn of a change only through inotify,
 * which the kernel raises for VFS calls, never for FUSE notifications.
 */
#ifndef RR_FS_OWN_H
#define RR_FS_OWN_H

#include <limits.h>
#include <stdbool.h>

#include "fs.h"

enum own_call_kind {
	OWN_CALL_NONE,
	OWN_CALL_RMDIR,	 /* a token gone: its id is removed */
	OWN_CALL_MKDIR,	 /* a token made elsewhere: its id is made */
	OWN_CALL_RENAME, /* a mkdir's duration name becomes the new token's id */
};

/* One call, as its requests are answered. */
struct own_call {
	enum own_call_kind kind;
	char name[NAME_MAX + 1];	       /* the entry there before: rmdir, rename */
	char new_name[RR_TOKEN_ID_LENGTH + 1]; /* the entry made: mkdir, rename */
	struct rr_token token;		       /* what both stand for */
};

struct own;

/* NULL without memory. Nothing is the thread's own until it calls own_prepare. */
struct own *own_new(struct fs *fs);
void own_free(struct own *own);

/*
 * From the thread that will make the calls, once, after mounting: its id
 * marks its requests, and the mount's root is found (the stat waits for the
 * session loop to answer GETATTR).
 */
void own_prepare(struct own *own);

/* Makes call on the mount's root; 0, or -errno (-EXDEV: the root could not be found). */
int own_vfs_call(struct own *own, const struct own_call *call);

/*
 * Whether req comes from the thread's own call. Such a request must be
 * answered with what the call says, never by asking the API: the thread
 * waits for the answer.
 */
bool own_is_caller(struct own *own, fuse_req_t req);

/* Its LOOKUP of name in the root: 0 and the token name stands for, or -ENOENT. */
int own_lookup(struct own *own, const char *name, struct rr_token *token);

/* Its request on a token's inode: 0 and the token, or -ENOENT where it is not the call's. */
int own_token(struct own *own, const char *id, struct rr_token *token);

/* Whether its call is this one: name and new_name as the call has them, NULL for any. */
bool own_is_call(struct own *own, enum own_call_kind kind, const char *name, const char *new_name);

#endif
