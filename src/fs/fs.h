/*
 * What every part of the driver shares: the state one mount lives on.
 *
 * main.c fills it in before the session starts; the request handlers
 * (ops.c) and the notification thread (notify.c) only read it, so it needs
 * no lock of its own, but for the last file looked up, which has its own,
 * root_version, an atomic, and kernel_opens, set at INIT before any other
 * request. The client, the inode table and the notification thread lock
 * themselves.
 */
#ifndef RR_FS_FS_H
#define RR_FS_FS_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <rerobots/client.h>

#include "inode.h"

struct notify;
struct renew;

struct fs {
	struct rr_client *client;
	struct inode_table *inodes;
	struct fuse_session *session;
	struct notify *notify;	/* the notification thread, from mounting on */
	struct renew *renew;	/* the mount's own token over time, from mounting on */
	const char *mountpoint; /* absolute, as libfuse resolved it */
	double list_ttl;	/* entry and attribute timeout of tokens, seconds */
	uid_t uid;		/* the mounting user owns everything */
	gid_t gid;
	time_t mounted;	   /* the root's times */
	bool kernel_opens; /* the kernel opens files without asking (ops.c) */
	/* The file whose bytes go to the page cache at the next lookup of a file (ops.c). */
	pthread_mutex_t looked_up_lock;
	fuse_ino_t looked_up;
	/* The client's listing version that the kernel's copy of the root listing shows. */
	_Atomic uint64_t root_version;
};

/*
 * The bytes of file ino (ops.c), for the notification thread to hand to the
 * page cache: 0 with *data to release with secret_free(), or -errno.
 */
int ops_file_content(struct fs *fs, const char *operation, fuse_ino_t ino, char **data,
		     size_t *length);

/* The operations table, for fuse_session_new(). */
const struct fuse_lowlevel_ops *ops_table(void);

#endif
