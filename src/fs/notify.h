/*
 * The thread that tells the kernel, and through it every open view, when a
 * token comes or goes without a local mkdir or rmdir: it expired, a listing
 * found it revoked or made elsewhere (rerobotsfs(1), "Open views"); when a
 * mkdir's duration name is to become the token's id; and when a file's
 * pages are to be filled ahead of a read, or must go.
 */
#ifndef RR_FS_NOTIFY_H
#define RR_FS_NOTIFY_H

#include "fs.h"

struct notify;

/* The VFS calls the thread makes on the mount, for open views to learn of changes. */
enum notify_call_kind {
	NOTIFY_CALL_NONE,
	NOTIFY_CALL_RMDIR,  /* a token gone: its id is removed */
	NOTIFY_CALL_MKDIR,  /* a token made elsewhere: its id is made */
	NOTIFY_CALL_RENAME, /* a mkdir's duration name becomes the new token's id */
};

/* Starts the thread on a mounted session; NULL after logging why. */
struct notify *notify_start(struct fs *fs);

/*
 * Has the kernel drop its cached pages of file ino soon: a refused write
 * through a shared mapping left its bytes there. For request handlers,
 * which must not wait for the kernel themselves.
 */
void notify_pages_spoiled(struct notify *notify, fuse_ino_t ino);

/*
 * File ino was just looked up. Its bytes go to the kernel's page cache
 * ahead of its first read, so that reading it is no round trip (and no
 * READ, which would also leave its atime stale and cost a GETATTR at the
 * next stat), once per inode while the kernel holds it. The kernel makes
 * the inode only once the lookup's reply is in, so a file's bytes are
 * handed over at the next lookup of a file, by the thread: handing them
 * over waits for the file's page locks, which a reader holds until its
 * READ is answered, maybe by the very handler that would wait. A shell
 * reading every token's jwt.txt through a glob looks every file up before
 * it reads any, so it finds all of them but the last in the page cache.
 */
void notify_file_looked_up(struct notify *notify, fuse_ino_t ino);

/*
 * A mkdir of name made token: soon, name is renamed to the token's id, so
 * that an open view shows the token where the user typed the name.
 */
void notify_token_made(struct notify *notify, const char *name, const struct rr_token *token);

/* An rmdir here revoked the token of id: a name of it not renamed yet goes soon. */
void notify_token_revoked(struct notify *notify, const char *id);

/*
 * Whether req comes from the thread's own VFS call on the mount. Such a
 * request must be answered with what these calls say, never by asking the
 * API: the thread waits for the answer.
 */
bool notify_is_own(struct notify *notify, fuse_req_t req);

/* Its LOOKUP of name in the root: 0 and the token name stands for, or -ENOENT. */
int notify_own_lookup(struct notify *notify, const char *name, struct rr_token *token);

/* Its request on a token's inode: 0 and the token, or -ENOENT where it is not the call's. */
int notify_own_token(struct notify *notify, const char *id, struct rr_token *token);

/* Whether its call is this one: name and new_name as the call has them, NULL for any. */
bool notify_own_call(struct notify *notify, enum notify_call_kind kind, const char *name,
		     const char *new_name);

/* Stops and joins the thread; call it before the session is destroyed. */
void notify_stop(struct notify *notify);

#endif
