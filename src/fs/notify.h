/*
 * The thread that tells the kernel when a token goes without a local rmdir:
 * it expired, or a listing found it revoked elsewhere (rerobotsfs(1): gone
 * from the listing, also from an open view, within 1 s of its expiry); and when
 * a file's pages are to be filled ahead of a read, or must go.
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
 * Has the kernel be handed the bytes of file ino soon, ahead of its first
 * read, once per inode while the kernel holds it. For request handlers,
 * which must not wait for the kernel's page locks themselves.
 */
void notify_pages_due(struct notify *notify, fuse_ino_t ino);

/* Stops and joins the thread; call it before the session is destroyed. */
void notify_stop(struct notify *notify);

#endif
