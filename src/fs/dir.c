/*
 * Directory listings; see dir.h. Every entry of a READDIRPLUS reply takes
 * a reference on its inode, as the kernel counts it, and a reply the kernel
 * never got gives them all back.
 */
#include "dir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

/* The smallest entry of a directory reply: a struct fuse_dirent with a short name. */
#define DIR_DIRENT_MIN 32

/* Where a directory reply is built: the buffer, and the references its entries took. */
struct dir_buffer {
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
static bool dir_add(struct fs *fs, struct dir_buffer *reply, const char *name,
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
static bool dir_add_dots(struct fs *fs, struct dir_buffer *reply, off_t index, fuse_ino_t self)
{
	struct fuse_entry_param entry;

	memset(&entry, 0, sizeof(entry));
	entry.attr.st_mode = S_IFDIR;
	entry.attr.st_ino = index == 0 ? self : FUSE_ROOT_ID;
	return dir_add(fs, reply, index == 0 ? "." : "..", &entry, index + 1);
}

/* How many tokens of the listing one call takes for a reply. */
#define DIR_ROOT_PAGE 64

static int dir_fill_root(struct fs *fs, struct dir_buffer *reply, off_t offset)
{
	struct rr_token page[DIR_ROOT_PAGE];
	struct fuse_entry_param entry;
	char from[RR_TOKEN_ID_LENGTH + 1];
	size_t count;
	int rc;

	if (offset > INODE_DIR_FIRST_TOKEN && !inode_dir_resume(offset, from))
		return 0;
	/* The listing before the dots: a root that cannot be listed fails, rather than look empty.
	 */
	rc = rr_client_list(fs->client, "readdir", offset > INODE_DIR_FIRST_TOKEN ? from : NULL,
			    page, DIR_ROOT_PAGE, &count);
	if (rc != 0)
		return rc;
	for (; offset < INODE_DIR_FIRST_TOKEN; offset++)
		if (!dir_add_dots(fs, reply, offset, FUSE_ROOT_ID))
			return 0;
	for (;;) {
		for (size_t i = 0; i < count; i++) {
			memset(&entry, 0, sizeof(entry));
			node_attr(fs, INODE_TOKEN_DIR, inode_number(fs->inodes, page[i].id),
				  (time_t)page[i].created, 0, &entry.attr);
			if (reply->plus) {
				/* Without a reference (no memory) the entry goes without
				 * attributes. */
				entry.ino = inode_ref(fs->inodes, page[i].id, INODE_TOKEN_DIR);
				entry.attr_timeout = fs->list_ttl;
				entry.entry_timeout = fs->list_ttl;
			}
			offset = inode_dir_offset_after(page[i].id);
			if (!dir_add(fs, reply, page[i].id, &entry, offset))
				return 0;
		}
		if (count < DIR_ROOT_PAGE || !inode_dir_resume(offset, from))
			return 0;
		rc = rr_client_list(fs->client, "readdir", from, page, DIR_ROOT_PAGE, &count);
		if (rc != 0)
			return rc;
	}
}

static void dir_fill_token(struct fs *fs, struct dir_buffer *reply, const struct rr_token *token,
			   fuse_ino_t self, off_t offset)
{
	struct fuse_entry_param entry;
	enum inode_kind kind;

	for (off_t index = offset; (size_t)index < NODE_FILE_COUNT + 2; index++) {
		if (index < 2) {
			if (!dir_add_dots(fs, reply, index, self))
				return;
			continue;
		}
		kind = node_file_kinds[index - 2];
		/* A file whose attributes cannot be had now is listed all the same, without them.
		 */
		if (!reply->plus ||
		    node_token_entry(fs, "readdir", kind, token, fs->list_ttl, &entry) != 0) {
			memset(&entry, 0, sizeof(entry));
			entry.attr.st_mode = S_IFREG;
			entry.attr.st_ino = inode_of_file(self, kind);
		}
		if (!dir_add(fs, reply, inode_file_name(kind), &entry, index + 1))
			return;
	}
}

void dir_reply(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, bool plus)
{
	struct fs *fs = fuse_req_userdata(req);
	struct dir_buffer reply = {req, plus, NULL, size, 0, NULL, 0};
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind kind;
	struct rr_token token;
	int rc;

	rc = inode_resolve(fs->inodes, ino, &kind, id);
	if (rc != 0)
		goto out_err;
	reply.buffer = malloc(size);
	reply.taken = calloc(size / DIR_DIRENT_MIN + 1, sizeof(*reply.taken));
	if (reply.buffer == NULL || reply.taken == NULL) {
		rc = -ENOMEM;
		goto out_err;
	}
	if (kind == INODE_ROOT) {
		rc = dir_fill_root(fs, &reply, offset);
		if (rc != 0 && reply.used == 0)
			goto out_err;
	} else {
		rc = rr_client_token_get(fs->client, "readdir", id, &token);
		if (rc != 0)
			goto out_err;
		dir_fill_token(fs, &reply, &token, ino, offset);
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
