/*
 * The notification thread's own VFS calls on the mount; see own.h.
 *
 * The thread tells the kernel of a token the way a user would: it calls
 * rmdir, mkdir or renameat2 on the mount itself, and the request handlers,
 * recognising the thread's id as the caller, answer those requests from
 * the call in flight without asking the API. Watchers on the root then get
 * what a local change makes: IN_DELETE for a token that expired or left a
 * listing, IN_CREATE for one a listing showed first, IN_MOVED_FROM and
 * IN_MOVED_TO when a mkdir's duration name turns into the token's id.
 *
 * The root is opened for each call, by its name in the mount point's
 * parent, and used only when it is still this mount's root: a descriptor
 * kept open would make the mount busy, so that `fusermount3 -u` failed, and
 * a mount hiding this one, or the directory under it once unmounted, must
 * never see these calls.
 */
#include "own.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct own {
	struct fs *fs;
	_Atomic pid_t tid; /* the thread's id, the caller of its own requests */
	/* Where the root is found again for each call; parent_fd -1 where it cannot be. */
	int parent_fd;
	char *root_name;
	dev_t root_dev;
	/* The call in flight, under its own lock: handlers read it while the thread waits. */
	pthread_mutex_t lock;
	struct own_call call;
};

struct own *own_new(struct fs *fs)
{
	struct own *own = calloc(1, sizeof(*own));

	if (own == NULL)
		return NULL;
	own->fs = fs;
	own->tid = -1;
	own->parent_fd = -1;
	pthread_mutex_init(&own->lock, NULL);
	return own;
}

void own_free(struct own *own)
{
	if (own == NULL)
		return;
	if (own->parent_fd >= 0)
		close(own->parent_fd);
	free(own->root_name);
	pthread_mutex_destroy(&own->lock);
	free(own);
}

/*
 * Finds the mount point's parent and this mount's device, once, before the
 * first call. The stat waits for the session loop to answer GETATTR.
 */
static void own_root_find(struct own *own)
{
	char *parent = strdup(own->fs->mountpoint);
	char *name = strdup(own->fs->mountpoint);
	struct stat st;

	own->parent_fd = -1;
	if (parent == NULL || name == NULL || stat(own->fs->mountpoint, &st) != 0 ||
	    st.st_ino != FUSE_ROOT_ID)
		goto out;
	own->root_name = strdup(basename(name));
	if (own->root_name == NULL)
		goto out;
	own->root_dev = st.st_dev;
	own->parent_fd = open(dirname(parent), O_PATH | O_DIRECTORY | O_CLOEXEC);
out:
	free(name);
	free(parent);
}

void own_prepare(struct own *own)
{
	atomic_store(&own->tid, gettid());
	own_root_find(own);
}

/* This mount's root as an O_PATH descriptor, or -1 where the name leads elsewhere now. */
static int own_root_open(struct own *own)
{
	struct stat st;
	int fd;

	if (own->parent_fd < 0)
		return -1;
	fd = openat(own->parent_fd, own->root_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_dev != own->root_dev || st.st_ino != FUSE_ROOT_ID) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A rename goes ahead only when the duration name still leads to the token
 * (a second mkdir of the same name takes it over, and its own rename then
 * follows): -ESTALE where it does not.
 */
static int own_rename_at(struct own *own, int root, const struct own_call *call)
{
	struct stat st;

	if (fstatat(root, call->name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (st.st_ino != inode_number(own->fs->inodes, call->token.id))
		return -ESTALE;
	return renameat2(root, call->name, root, call->new_name, RENAME_NOREPLACE) == 0 ? 0
											: -errno;
}

/*
 * Makes one VFS call on the mount's root, which the handlers answer from
 * call; 0, or -errno where it failed (-EXDEV: the root could not be found).
 */
int own_vfs_call(struct own *own, const struct own_call *call)
{
	int root = own_root_open(own);
	int rc;

	if (root < 0)
		return -EXDEV;
	pthread_mutex_lock(&own->lock);
	own->call = *call;
	pthread_mutex_unlock(&own->lock);
	switch (call->kind) {
	case OWN_CALL_RMDIR:
		rc = unlinkat(root, call->name, AT_REMOVEDIR) == 0 ? 0 : -errno;
		break;
	case OWN_CALL_MKDIR:
		rc = mkdirat(root, call->new_name, 0700) == 0 ? 0 : -errno;
		break;
	case OWN_CALL_RENAME:
		rc = own_rename_at(own, root, call);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	pthread_mutex_lock(&own->lock);
	own->call.kind = OWN_CALL_NONE;
	pthread_mutex_unlock(&own->lock);
	close(root);
	return rc;
}

bool own_is_caller(struct own *own, fuse_req_t req)
{
	return fuse_req_ctx(req)->pid == atomic_load(&own->tid);
}

int own_lookup(struct own *own, const char *name, struct rr_token *token)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&own->lock);
	if ((own->call.kind == OWN_CALL_RMDIR || own->call.kind == OWN_CALL_RENAME) &&
	    strcmp(name, own->call.name) == 0) {
		*token = own->call.token;
		rc = 0;
	}
	pthread_mutex_unlock(&own->lock);
	return rc;
}

int own_token(struct own *own, const char *id, struct rr_token *token)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&own->lock);
	if (own->call.kind != OWN_CALL_NONE && strcmp(id, own->call.token.id) == 0) {
		*token = own->call.token;
		rc = 0;
	}
	pthread_mutex_unlock(&own->lock);
	return rc;
}

bool own_is_call(struct own *own, enum own_call_kind kind, const char *name, const char *new_name)
{
	bool same;

	pthread_mutex_lock(&own->lock);
	same = own->call.kind == kind && (name == NULL || strcmp(name, own->call.name) == 0) &&
	       (new_name == NULL || strcmp(new_name, own->call.new_name) == 0);
	pthread_mutex_unlock(&own->lock);
	return same;
}
