/*
 * The thread that tells the kernel when a token goes without a local rmdir:
 * it expired, or a listing found it revoked elsewhere (SPEC 2.1: gone from
 * the listing, also from an open view, within 1 s of its expiry).
 */
#ifndef RR_FS_NOTIFY_H
#define RR_FS_NOTIFY_H

#include "fs.h"

struct notify;

/* Starts the thread on a mounted session; NULL after logging why. */
struct notify *notify_start(struct fs *fs);

/* Stops and joins the thread; call it before the session is destroyed. */
void notify_stop(struct notify *notify);

#endif
