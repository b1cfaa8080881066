/*
 * What every part of the driver shares: the mount's settings and its parts.
 *
 * main.c fills it in before the session starts; the request handlers
 * (ops.c), the notification thread (notify.c) and the renewal thread
 * (renew.c) only read it, so it needs no lock. Each part keeps its own
 * state and locks it itself: the client, the inode table, the handlers'
 * (struct ops_state), the notification thread's.
 */
#ifndef RR_FS_FS_H
#define RR_FS_FS_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <rerobots/client.h>

#include "inode.h"

struct notify;
struct ops_state;
struct own;
struct renew;

struct fs {
	struct rr_client *client;
	struct inode_table *inodes;
	struct fuse_session *session;
	struct ops_state *ops;	/* the request handlers' own */
	struct own *own;	/* the notification thread's own calls on the mount */
	struct notify *notify;	/* the notification thread, from mounting on */
	struct renew *renew;	/* the mount's own token over time, from mounting on */
	const char *mountpoint; /* absolute, as libfuse resolved it */
	double list_ttl;	/* entry and attribute timeout of tokens, seconds */
	uid_t uid;		/* the mounting user owns everything */
	gid_t gid;
	time_t mounted; /* the root's times */
};

#endif
