/*
 * The FUSE operations: the tree of rerobotsfs(1) over what the client knows.
 *
 *     MOUNT/                 drwx------   the root, inode FUSE_ROOT_ID
 *       ID/                  drwx------   one per active token
 *         jwt.txt            -r--------   the token text, then "\n"
 *         created            -r--r--r--   "2026-11-28T16:42:37Z\n"
 *         expires            -r--r--r--   same format, or "never\n"
 *
 * Each handler asks the client (which owns the cache and every request)
 * and replies exactly once; errors unwind to one fuse_reply_err. mkdir of a
 * duration makes a token, rmdir of an id revokes one, and every other
 * change is refused without touching anything.
 *
 * The kernel's own caches do most of the work: token entries and attributes
 * stay valid for list_ttl (notify.c tells the kernel, and open views, when
 * a token comes or goes), files open without asking the driver and keep
 * their pages across opens, and names that can never be tokens are cached
 * as negative entries for an hour.
 */
#include "ops.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir.h"
#include "duration.h"
#include "log.h"
#include "node.h"
#include "notify.h"
#include "own.h"
#include "secret.h"
#include "token_id.h"

/*
 * Names that are neither a token id nor a duration (".hidden",
 * "desktop.ini", ...) can never exist; file managers probe them again and
 * again.
 */
#define OPS_NEVER_TIMEOUT 3600.0
/* The root's listing and times change with every mkdir and rmdir. */
#define OPS_ROOT_TIMEOUT 1.0
/*
 * How long the kernel may keep a mkdir's duration name ("24h") leading to
 * the new token, so that `mkdir 24h && cat 24h/jwt.txt` works. notify.c
 * renames it to the token's id before. A second `mkdir 24h` makes another
 * token all the same: the kernel asks again before an exclusive create, and
 * a duration is never an entry.
 */
#define OPS_MKDIR_TIMEOUT 1.0

_Static_assert(INODE_ROOT_ID == FUSE_ROOT_ID,
	       "the inode table numbers the root as the kernel does");

/* What the handlers keep between requests. */
struct ops_state {
	bool kernel_opens; /* the kernel opens files without asking; set at INIT */
	/* The client's listing version that the kernel's copy of the root listing shows. */
	_Atomic uint64_t root_version;
};

static struct fs *ops_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

struct ops_state *ops_state_new(void)
{
	return calloc(1, sizeof(struct ops_state));
}

void ops_state_free(struct ops_state *state)
{
	free(state);
}

/*
 * The notification thread's own calls on the mount (see own.c) are
 * answered from the call it has in flight, with no request to the API: a
 * name it removes or renames is there, every other name is not (so that
 * its mkdir and rename can make it). Nothing of these answers is kept by
 * the kernel past the call.
 */
static void ops_own_lookup(fuse_req_t req, struct fs *fs, enum inode_kind parent_kind,
			   const char *name)
{
	struct fuse_entry_param entry;
	struct rr_token token;

	memset(&entry, 0, sizeof(entry));
	if (parent_kind == INODE_ROOT && own_lookup(fs->own, name, &token) == 0 &&
	    node_token_entry(fs, "lookup", INODE_TOKEN_DIR, &token, 0, &entry) != 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	node_reply_entry(req, fs, &entry);
}

static void ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = ops_fs(req);
	struct fuse_entry_param entry;
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind parent_kind;
	enum inode_kind kind = INODE_TOKEN_DIR;
	struct rr_token token;
	int64_t seconds;
	int rc;

	memset(&entry, 0, sizeof(entry));
	rc = inode_resolve(fs->inodes, parent, &parent_kind, id);
	if (rc != 0)
		goto out_err;
	if (own_is_caller(fs->own, req)) {
		ops_own_lookup(req, fs, parent_kind, name);
		return;
	}
	if (parent_kind == INODE_ROOT) {
		if (!token_id_is_valid(name)) {
			/* A duration stays unknown, not absent for long: mkdir must reach us. */
			entry.entry_timeout =
			    duration_parse(name, &seconds) == 0 ? 0 : OPS_NEVER_TIMEOUT;
			goto out;
		}
		memcpy(id, name, sizeof(id));
	} else if (parent_kind == INODE_TOKEN_DIR) {
		kind = node_file_kind(name);
		if (kind == INODE_ROOT) {
			entry.entry_timeout = OPS_NEVER_TIMEOUT;
			goto out;
		}
	} else {
		rc = -ENOTDIR;
		goto out_err;
	}
	rc = rr_client_token_get(fs->client, "lookup", id, &token);
	if (rc != 0)
		goto out_err;
	rc = node_token_entry(fs, "lookup", kind, &token, fs->list_ttl, &entry);
	if (rc != 0)
		goto out_err;
out:
	node_reply_entry(req, fs, &entry);
	if (node_is_file(kind))
		notify_file_looked_up(fs->notify, entry.ino);
	return;
out_err:
	fuse_reply_err(req, -rc);
}

static void ops_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_unref(ops_fs(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void ops_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = ops_fs(req);

	for (size_t i = 0; i < count; i++)
		inode_unref(fs->inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void ops_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = ops_fs(req);
	char id[RR_TOKEN_ID_LENGTH + 1];
	double timeout = OPS_ROOT_TIMEOUT;
	enum inode_kind kind;
	struct rr_token token;
	struct stat st;
	int rc;

	rc = inode_resolve(fs->inodes, ino, &kind, id);
	if (rc != 0)
		goto out_err;
	if (kind == INODE_ROOT) {
		node_attr(fs, kind, ino, fs->mounted, 0, &st);
	} else if (own_is_caller(fs->own, req)) {
		/* Only a token's directory is the call's: no file's bytes are at hand. */
		rc = kind == INODE_TOKEN_DIR ? own_token(fs->own, id, &token) : -ENOENT;
		if (rc != 0)
			goto out_err;
		node_attr(fs, kind, ino, (time_t)token.created, 0, &st);
		timeout = 0;
	} else {
		rc = rr_client_token_get(fs->client, "getattr", id, &token);
		if (rc != 0)
			goto out_err;
		rc = node_token_attr(fs, "getattr", kind, &token, ino, &st);
		if (rc != 0)
			goto out_err;
		timeout = fs->list_ttl;
	}
	fuse_reply_attr(req, &st, timeout);
	return;
out_err:
	fuse_reply_err(req, -rc);
}

/*
 * The kernel keeps its copy of the root's listing (cache_readdir) across
 * opens while the client's listing has neither changed nor been confirmed
 * again since the copy was read: a repeated `ls -l` is then one OPENDIR,
 * not the READDIRPLUS requests of the whole listing. Tokens that go are
 * also dropped from the copy by notify.c, and the kernel drops it itself on
 * mkdir and rmdir.
 */
static void ops_root_cache(struct fs *fs, struct fuse_file_info *fi)
{
	uint64_t version;

	fi->cache_readdir = 1;
	if (rr_client_list_version(fs->client, "opendir", &version) != 0)
		return;
	fi->keep_cache = atomic_exchange(&fs->ops->root_version, version) == version;
}

static void ops_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = ops_fs(req);
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind kind;
	struct rr_token token;
	int rc;

	rc = inode_resolve(fs->inodes, ino, &kind, id);
	if (rc != 0)
		goto out_err;
	if (kind == INODE_ROOT) {
		ops_root_cache(fs, fi);
	} else if (kind == INODE_TOKEN_DIR) {
		rc = rr_client_token_get(fs->client, "opendir", id, &token);
		if (rc != 0)
			goto out_err;
	} else {
		rc = -ENOTDIR;
		goto out_err;
	}
	fuse_reply_open(req, fi);
	return;
out_err:
	fuse_reply_err(req, -rc);
}

static void ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			struct fuse_file_info *fi)
{
	dir_reply(req, ino, size, offset, false);
}

static void ops_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			    struct fuse_file_info *fi)
{
	dir_reply(req, ino, size, offset, true);
}

/*
 * Where the kernel can open files without asking (ops_open), an open for
 * writing succeeds and its writes fail (ops_write); an open that truncates
 * stays refused, as a SETATTR, once the kernel no longer counts on OPEN to
 * truncate.
 */
static void ops_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	fs->ops->kernel_opens = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0;
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
}

/* A name as it may go into a log line: control characters (a newline) become '?'. */
static void ops_printable(const char *name, char *out, size_t size)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < size; i++)
		out[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	out[i] = '\0';
}

static void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = ops_fs(req);
	struct fuse_entry_param entry;
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind parent_kind;
	struct rr_token token;
	char printable[NAME_MAX + 1];
	int64_t seconds;
	int rc;

	rc = inode_resolve(fs->inodes, parent, &parent_kind, id);
	if (rc != 0)
		goto out_err;
	if (parent_kind != INODE_ROOT) {
		rc = -EPERM;
		goto out_err;
	}
	if (own_is_caller(fs->own, req)) {
		/* The thread shows a token made elsewhere: it exists already. */
		if (!own_is_call(fs->own, OWN_CALL_MKDIR, NULL, name) ||
		    own_token(fs->own, name, &token) != 0) {
			rc = -EPERM;
			goto out_err;
		}
		rc = node_token_entry(fs, "mkdir", INODE_TOKEN_DIR, &token, fs->list_ttl, &entry);
		if (rc != 0)
			goto out_err;
		node_reply_entry(req, fs, &entry);
		return;
	}
	if (duration_parse(name, &seconds) != 0) {
		ops_printable(name, printable, sizeof(printable));
		log_info("mkdir \"%s\": not a duration (e.g. 24h, 1h30m, 7d)", printable);
		rc = -EINVAL;
		goto out_err;
	}
	rc = rr_client_token_create(fs->client, "mkdir", seconds, &token);
	if (rc != 0)
		goto out_err;
	rc = node_token_entry(fs, "mkdir", INODE_TOKEN_DIR, &token, OPS_MKDIR_TIMEOUT, &entry);
	if (rc != 0)
		goto out_err;
	node_reply_entry(req, fs, &entry);
	notify_token_made(fs->notify, name, &token);
	return;
out_err:
	fuse_reply_err(req, -rc);
}

static void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = ops_fs(req);
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind parent_kind;
	bool own;
	int rc;

	/* The thread removes what is gone already: nothing to revoke. */
	if (own_is_caller(fs->own, req)) {
		own = parent == FUSE_ROOT_ID && own_is_call(fs->own, OWN_CALL_RMDIR, name, NULL);
		fuse_reply_err(req, own ? 0 : EPERM);
		return;
	}
	rc = inode_resolve(fs->inodes, parent, &parent_kind, id);
	if (rc == 0 && (parent_kind != INODE_ROOT || !token_id_is_valid(name)))
		rc = -ENOENT;
	/* The user answered no to `rm -r` for a file here: see inode.h. */
	if (rc == 0 && inode_confirm_declined(fs->inodes, name, fuse_req_ctx(req)->pid))
		rc = -ENOTEMPTY;
	if (rc == 0)
		rc = rr_client_token_revoke(fs->client, "rmdir", name);
	fuse_reply_err(req, -rc);
	if (rc == 0)
		notify_token_revoked(fs->notify, name);
}

/*
 * `rm -r ID` and a file manager's delete unlink the files before removing
 * the directory, and must succeed; the token goes only with the rmdir
 * (rerobotsfs(1), "Revoking a token"). So unlinking a token's file answers 0 and changes nothing.
 */
static void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = ops_fs(req);
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind parent_kind;
	enum inode_kind kind;
	int rc;

	rc = inode_resolve(fs->inodes, parent, &parent_kind, id);
	if (rc == 0 && parent_kind != INODE_TOKEN_DIR)
		rc = -EPERM;
	kind = node_file_kind(name);
	if (rc == 0 && kind == INODE_ROOT)
		rc = -ENOENT;
	if (rc == 0)
		inode_confirm_clear(fs->inodes, inode_of_file(parent, kind),
				    fuse_req_ctx(req)->pid);
	fuse_reply_err(req, -rc);
}

/*
 * Files are never writable, not even for root: refusing W_OK here is what
 * makes `rm -r` in a terminal ask before it removes jwt.txt, the
 * filesystem's confirmation step; the refusal is remembered so
 * that an answer of no keeps the token (see inode.h).
 */
static void ops_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs *fs = ops_fs(req);
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind kind;
	int rc;

	rc = inode_resolve(fs->inodes, ino, &kind, id);
	if (rc == 0 && node_is_file(kind) && (mask & (W_OK | X_OK)))
		rc = -EACCES;
	if (rc == -EACCES && (mask & W_OK))
		inode_confirm_mark(fs->inodes, ino, fuse_req_ctx(req)->pid);
	fuse_reply_err(req, -rc);
}

/*
 * Opening a file asks nothing of the driver: answered ENOSYS once, the
 * kernel opens files by itself from then on (no OPEN, no RELEASE) and keeps
 * their pages across opens, so a warm read of a token is no round trip at
 * all. Kernels before Linux 4.20 cannot, and get a plain open.
 */
static void ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ops_fs(req)->ops->kernel_opens) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		     struct fuse_file_info *fi)
{
	struct fs *fs = ops_fs(req);
	struct node_content content = {NULL, 0};
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind kind;
	struct rr_token token;
	size_t start;
	int rc;

	rc = inode_resolve(fs->inodes, ino, &kind, id);
	if (rc != 0)
		goto out_err;
	rc = rr_client_token_get(fs->client, "read", id, &token);
	if (rc != 0)
		goto out_err;
	rc = node_content(fs, "read", kind, &token, &content);
	if (rc != 0)
		goto out_err;
	start = (size_t)offset < content.length ? (size_t)offset : content.length;
	if (size > content.length - start)
		size = content.length - start;
	fuse_reply_buf(req, content.data + start, size);
	secret_free(content.data);
	return;
out_err:
	fuse_reply_err(req, -rc);
}

/*
 * Files open for writing without asking (see ops_open), so writing is
 * refused here. Bytes written through a shared mapping are in the
 * kernel's page cache already when they come here: notify.c drops those
 * pages, so that the next read asks again.
 */
static void ops_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct fs *fs = ops_fs(req);

	fuse_reply_err(req, EACCES);
	notify_pages_spoiled(fs->notify, ino);
}

/* Every other change (rerobotsfs(1), "Everything else") is refused and changes nothing. */
static void ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, EPERM);
}

static void ops_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

static void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, EPERM);
}

static void ops_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void ops_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EPERM);
}

/* Renaming is refused, but for the thread's turning a duration name into the token's id. */
static void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags)
{
	struct fs *fs = ops_fs(req);

	if (own_is_caller(fs->own, req) && parent == FUSE_ROOT_ID && newparent == FUSE_ROOT_ID &&
	    own_is_call(fs->own, OWN_CALL_RENAME, name, newname)) {
		fuse_reply_err(req, 0);
		return;
	}
	fuse_reply_err(req, EPERM);
}

static void ops_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	fuse_reply_err(req, EPERM);
}

static void ops_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, EPERM);
}

/*
 * getxattr and listxattr are left out on purpose: the kernel then answers
 * EOPNOTSUPP itself, without a round trip for each `ls -l`.
 */
static const struct fuse_lowlevel_ops ops = {
    .init = ops_init,
    .lookup = ops_lookup,
    .forget = ops_forget,
    .forget_multi = ops_forget_multi,
    .getattr = ops_getattr,
    .setattr = ops_setattr,
    .mknod = ops_mknod,
    .mkdir = ops_mkdir,
    .unlink = ops_unlink,
    .rmdir = ops_rmdir,
    .symlink = ops_symlink,
    .rename = ops_rename,
    .link = ops_link,
    .open = ops_open,
    .read = ops_read,
    .write = ops_write,
    .opendir = ops_opendir,
    .readdir = ops_readdir,
    .readdirplus = ops_readdirplus,
    .setxattr = ops_setxattr,
    .removexattr = ops_removexattr,
    .access = ops_access,
    .create = ops_create,
};

const struct fuse_lowlevel_ops *ops_table(void)
{
	return &ops;
}
