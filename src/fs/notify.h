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

/* Stops and joins the thread; call it before the session is destroyed. */
void notify_stop(struct notify *notify);

#endif
