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
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duration.h"
#include "log.h"
#include "notify.h"
#include "secret.h"
#include "timefmt.h"
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

/* The smallest entry of a directory reply: a struct fuse_dirent with a short name. */
#define OPS_DIRENT_MIN 32

/* Entries of a token's directory after "." and "..", in listing order. */
static const enum inode_kind ops_file_kinds[] = {INODE_JWT, INODE_CREATED, INODE_EXPIRES};

#define OPS_FILE_COUNT (sizeof(ops_file_kinds) / sizeof(ops_file_kinds[0]))

/* A file's bytes; released with secret_free, since jwt.txt's are the token. */
struct ops_content {
	char *data;
	size_t length;
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

/* The kind of the file called name in a token's directory, or INODE_ROOT for none. */
static enum inode_kind ops_file_kind(const char *name)
{
	for (size_t i = 0; i < OPS_FILE_COUNT; i++)
		if (strcmp(name, inode_file_name(ops_file_kinds[i])) == 0)
			return ops_file_kinds[i];
	return INODE_ROOT;
}

static bool ops_is_file(enum inode_kind kind)
{
	return kind == INODE_JWT || kind == INODE_CREATED || kind == INODE_EXPIRES;
}

static int ops_content_time(int64_t when, bool never_when_zero, struct ops_content *content)
{
	char text[TIMEFMT_UTC_LENGTH + 2];
	int length;

	if (when == 0 && never_when_zero) {
		content->data = secret_dup("never\n", 6);
		content->length = 6;
		return content->data == NULL ? -ENOMEM : 0;
	}
	length = timefmt_utc(when, text, sizeof(text) - 1);
	if (length < 0)
		return -EIO;
	text[length++] = '\n';
	content->data = secret_dup(text, (size_t)length);
	content->length = (size_t)length;
	return content->data == NULL ? -ENOMEM : 0;
}

static int ops_content_jwt(struct fs *fs, const char *operation, const char *id,
			   struct ops_content *content)
{
	char *text;
	size_t length;
	int rc;

	rc = rr_client_token_text(fs->client, operation, id, &text, &length);
	if (rc != 0)
		return rc;
	content->data = malloc(length + 2);
	if (content->data != NULL) {
		memcpy(content->data, text, length);
		content->data[length] = '\n';
		content->data[length + 1] = '\0';
		content->length = length + 1;
	}
	secret_free(text);
	return content->data == NULL ? -ENOMEM : 0;
}

/* The bytes of a token's file; token is the token's metadata. */
static int ops_content(struct fs *fs, const char *operation, enum inode_kind kind,
		       const struct rr_token *token, struct ops_content *content)
{
	switch (kind) {
	case INODE_JWT:
		return ops_content_jwt(fs, operation, token->id, content);
	case INODE_CREATED:
		return ops_content_time(token->created, false, content);
	case INODE_EXPIRES:
		return ops_content_time(token->expires, true, content);
	default:
		return -EISDIR;
	}
}

static void ops_attr(const struct fs *fs, enum inode_kind kind, fuse_ino_t ino, time_t when,
		     size_t size, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_atime = when;
	st->st_mtime = when;
	st->st_ctime = when;
	switch (kind) {
	case INODE_ROOT:
	case INODE_TOKEN_DIR:
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 2;
		break;
	case INODE_JWT:
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		break;
	case INODE_CREATED:
	case INODE_EXPIRES:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		break;
	}
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
}

/* The attributes of a token's inode of kind, sizes exact (jwt.txt's needs the text). */
static int ops_token_attr(struct fs *fs, const char *operation, enum inode_kind kind,
			  const struct rr_token *token, fuse_ino_t ino, struct stat *st)
{
	struct ops_content content = {NULL, 0};
	int rc;

	if (ops_is_file(kind)) {
		rc = ops_content(fs, operation, kind, token, &content);
		if (rc != 0)
			return rc;
	}
	ops_attr(fs, kind, ino, (time_t)token->created, content.length, st);
	secret_free(content.data);
	return 0;
}

/* Fills entry for the token's inode of kind and takes the reference the kernel will count. */
static int ops_token_entry(struct fs *fs, const char *operation, enum inode_kind kind,
			   const struct rr_token *token, double timeout,
			   struct fuse_entry_param *entry)
{
	int rc;

	memset(entry, 0, sizeof(*entry));
	rc = ops_token_attr(fs, operation, kind, token, 0, &entry->attr);
	if (rc != 0)
		return rc;
	entry->ino = inode_ref(fs->inodes, token->id, kind);
	if (entry->ino == 0)
		return -ENOMEM;
	entry->attr.st_ino = entry->ino;
	entry->attr_timeout = timeout;
	entry->entry_timeout = timeout;
	return 0;
}

/* Replies with entry; a reply the kernel never got takes back the entry's reference. */
static void ops_reply_entry(fuse_req_t req, struct fs *fs, const struct fuse_entry_param *entry)
{
	if (fuse_reply_entry(req, entry) != 0 && entry->ino != 0)
		inode_unref(fs->inodes, entry->ino, 1);
}

int ops_file_content(struct fs *fs, const char *operation, fuse_ino_t ino, char **data,
		     size_t *length)
{
	struct ops_content content = {NULL, 0};
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind kind;
	struct rr_token token;
	int rc;

	rc = inode_resolve(fs->inodes, ino, &kind, id);
	if (rc == 0)
		rc = rr_client_token_get(fs->client, operation, id, &token);
	if (rc == 0)
		rc = ops_content(fs, operation, kind, &token, &content);
	*data = content.data;
	*length = content.length;
	return rc;
}

/*
 * The notification thread's own calls on the mount (see notify.c) are
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
	if (parent_kind == INODE_ROOT && notify_own_lookup(fs->notify, name, &token) == 0 &&
	    ops_token_entry(fs, "lookup", INODE_TOKEN_DIR, &token, 0, &entry) != 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ops_reply_entry(req, fs, &entry);
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
	if (notify_is_own(fs->notify, req)) {
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
		kind = ops_file_kind(name);
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
	rc = ops_token_entry(fs, "lookup", kind, &token, fs->list_ttl, &entry);
	if (rc != 0)
		goto out_err;
out:
	ops_reply_entry(req, fs, &entry);
	if (ops_is_file(kind))
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
		ops_attr(fs, kind, ino, fs->mounted, 0, &st);
	} else if (notify_is_own(fs->notify, req)) {
		/* Only a token's directory is the call's: no file's bytes are at hand. */
		rc = kind == INODE_TOKEN_DIR ? notify_own_token(fs->notify, id, &token) : -ENOENT;
		if (rc != 0)
			goto out_err;
		ops_attr(fs, kind, ino, (time_t)token.created, 0, &st);
		timeout = 0;
	} else {
		rc = rr_client_token_get(fs->client, "getattr", id, &token);
		if (rc != 0)
			goto out_err;
		rc = ops_token_attr(fs, "getattr", kind, &token, ino, &st);
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

/* Where a directory reply is built: buffer, and the references its entries took. */
struct ops_dir_reply {
	fuse_req_t req;
	bool plus;
	char *buffer;
	size_t size;
	size_t used;
	fuse_ino_t *taken;
	size_t taken_count;
};

/*
 * Adds one entry, followed at offset next. entry->ino is the reference taken
 * for it, 0 for none. Returns false when the buffer is full; the entry's
 * reference is then given back.
 */
static bool ops_dir_add(struct fs *fs, struct ops_dir_reply *reply, const char *name,
			const struct fuse_entry_param *entry, off_t next)
{
	char *at = reply->buffer + reply->used;
	size_t left = reply->size - reply->used;
	size_t length;

	if (reply->plus)
		length = fuse_add_direntry_plus(reply->req, at, left, name, entry, next);
	else
		length = fuse_add_direntry(reply->req, at, left, name, &entry->attr, next);
	if (length > left) {
		if (entry->ino != 0)
			inode_unref(fs->inodes, entry->ino, 1);
		return false;
	}
	reply->used += length;
	if (entry->ino != 0)
		reply->taken[reply->taken_count++] = entry->ino;
	return true;
}

/* "." and "..": never counted as lookups by the kernel, so they carry no reference. */
static bool ops_dir_add_dots(struct fs *fs, struct ops_dir_reply *reply, off_t index,
			     fuse_ino_t self)
{
	struct fuse_entry_param entry;

	memset(&entry, 0, sizeof(entry));
	entry.attr.st_mode = S_IFDIR;
	entry.attr.st_ino = index == 0 ? self : FUSE_ROOT_ID;
	return ops_dir_add(fs, reply, index == 0 ? "." : "..", &entry, index + 1);
}

/* How many tokens of the listing one call takes for a reply. */
#define OPS_ROOT_PAGE 64

static int ops_dir_fill_root(struct fs *fs, struct ops_dir_reply *reply, off_t offset)
{
	struct rr_token page[OPS_ROOT_PAGE];
	struct fuse_entry_param entry;
	char from[RR_TOKEN_ID_LENGTH + 1];
	size_t count;
	int rc;

	if (offset > INODE_DIR_FIRST_TOKEN && !inode_dir_resume(offset, from))
		return 0;
	/* The listing before the dots: a root that cannot be listed fails, rather than look empty.
	 */
	rc = rr_client_list(fs->client, "readdir", offset > INODE_DIR_FIRST_TOKEN ? from : NULL,
			    page, OPS_ROOT_PAGE, &count);
	if (rc != 0)
		return rc;
	for (; offset < INODE_DIR_FIRST_TOKEN; offset++)
		if (!ops_dir_add_dots(fs, reply, offset, FUSE_ROOT_ID))
			return 0;
	for (;;) {
		for (size_t i = 0; i < count; i++) {
			memset(&entry, 0, sizeof(entry));
			ops_attr(fs, INODE_TOKEN_DIR, inode_number(fs->inodes, page[i].id),
				 (time_t)page[i].created, 0, &entry.attr);
			if (reply->plus) {
				/* Without a reference (no memory) the entry goes without
				 * attributes. */
				entry.ino = inode_ref(fs->inodes, page[i].id, INODE_TOKEN_DIR);
				entry.attr_timeout = fs->list_ttl;
				entry.entry_timeout = fs->list_ttl;
			}
			offset = inode_dir_offset_after(page[i].id);
			if (!ops_dir_add(fs, reply, page[i].id, &entry, offset))
				return 0;
		}
		if (count < OPS_ROOT_PAGE || !inode_dir_resume(offset, from))
			return 0;
		rc = rr_client_list(fs->client, "readdir", from, page, OPS_ROOT_PAGE, &count);
		if (rc != 0)
			return rc;
	}
}

static void ops_dir_fill_token(struct fs *fs, struct ops_dir_reply *reply,
			       const struct rr_token *token, fuse_ino_t self, off_t offset)
{
	struct fuse_entry_param entry;
	enum inode_kind kind;

	for (off_t index = offset; (size_t)index < OPS_FILE_COUNT + 2; index++) {
		if (index < 2) {
			if (!ops_dir_add_dots(fs, reply, index, self))
				return;
			continue;
		}
		kind = ops_file_kinds[index - 2];
		/* A file whose attributes cannot be had now is listed all the same, without them.
		 */
		if (!reply->plus ||
		    ops_token_entry(fs, "readdir", kind, token, fs->list_ttl, &entry) != 0) {
			memset(&entry, 0, sizeof(entry));
			entry.attr.st_mode = S_IFREG;
			entry.attr.st_ino = inode_of_file(self, kind);
		}
		if (!ops_dir_add(fs, reply, inode_file_name(kind), &entry, index + 1))
			return;
	}
}

static void ops_readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			       struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = ops_fs(req);
	struct ops_dir_reply reply = {req, plus, NULL, size, 0, NULL, 0};
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind kind;
	struct rr_token token;
	int rc;

	rc = inode_resolve(fs->inodes, ino, &kind, id);
	if (rc != 0)
		goto out_err;
	reply.buffer = malloc(size);
	reply.taken = calloc(size / OPS_DIRENT_MIN + 1, sizeof(*reply.taken));
	if (reply.buffer == NULL || reply.taken == NULL) {
		rc = -ENOMEM;
		goto out_err;
	}
	if (kind == INODE_ROOT) {
		rc = ops_dir_fill_root(fs, &reply, offset);
		if (rc != 0 && reply.used == 0)
			goto out_err;
	} else {
		rc = rr_client_token_get(fs->client, "readdir", id, &token);
		if (rc != 0)
			goto out_err;
		ops_dir_fill_token(fs, &reply, &token, ino, offset);
	}
	if (fuse_reply_buf(req, reply.buffer, reply.used) != 0)
		for (size_t i = 0; i < reply.taken_count; i++)
			inode_unref(fs->inodes, reply.taken[i], 1);
	goto out;
out_err:
	fuse_reply_err(req, -rc);
out:
	free(reply.taken);
	free(reply.buffer);
}

static void ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			struct fuse_file_info *fi)
{
	ops_readdir_common(req, ino, size, offset, fi, false);
}

static void ops_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			    struct fuse_file_info *fi)
{
	ops_readdir_common(req, ino, size, offset, fi, true);
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
	if (notify_is_own(fs->notify, req)) {
		/* The thread shows a token made elsewhere: it exists already. */
		if (!notify_own_call(fs->notify, NOTIFY_CALL_MKDIR, NULL, name) ||
		    notify_own_token(fs->notify, name, &token) != 0) {
			rc = -EPERM;
			goto out_err;
		}
		rc = ops_token_entry(fs, "mkdir", INODE_TOKEN_DIR, &token, fs->list_ttl, &entry);
		if (rc != 0)
			goto out_err;
		ops_reply_entry(req, fs, &entry);
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
	rc = ops_token_entry(fs, "mkdir", INODE_TOKEN_DIR, &token, OPS_MKDIR_TIMEOUT, &entry);
	if (rc != 0)
		goto out_err;
	ops_reply_entry(req, fs, &entry);
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
	if (notify_is_own(fs->notify, req)) {
		own = parent == FUSE_ROOT_ID &&
		      notify_own_call(fs->notify, NOTIFY_CALL_RMDIR, name, NULL);
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
	kind = ops_file_kind(name);
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
	if (rc == 0 && ops_is_file(kind) && (mask & (W_OK | X_OK)))
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
	struct ops_content content = {NULL, 0};
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
	rc = ops_content(fs, "read", kind, &token, &content);
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

	if (notify_is_own(fs->notify, req) && parent == FUSE_ROOT_ID && newparent == FUSE_ROOT_ID &&
	    notify_own_call(fs->notify, NOTIFY_CALL_RENAME, name, newname)) {
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
