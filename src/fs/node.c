/* What each inode of a token shows; see node.h. */
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "timefmt.h"

const enum inode_kind node_file_kinds[NODE_FILE_COUNT] = {INODE_JWT, INODE_CREATED, INODE_EXPIRES};

/* The kind of the file called name in a token's directory, or INODE_ROOT for none. */
enum inode_kind node_file_kind(const char *name)
{
	for (size_t i = 0; i < NODE_FILE_COUNT; i++)
		if (strcmp(name, inode_file_name(node_file_kinds[i])) == 0)
			return node_file_kinds[i];
	return INODE_ROOT;
}

bool node_is_file(enum inode_kind kind)
{
	return kind == INODE_JWT || kind == INODE_CREATED || kind == INODE_EXPIRES;
}

static int node_content_time(int64_t when, bool never_when_zero, struct node_content *content)
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

static int node_content_jwt(struct fs *fs, const char *operation, const char *id,
			    struct node_content *content)
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
int node_content(struct fs *fs, const char *operation, enum inode_kind kind,
		 const struct rr_token *token, struct node_content *content)
{
	switch (kind) {
	case INODE_JWT:
		return node_content_jwt(fs, operation, token->id, content);
	case INODE_CREATED:
		return node_content_time(token->created, false, content);
	case INODE_EXPIRES:
		return node_content_time(token->expires, true, content);
	default:
		return -EISDIR;
	}
}

void node_attr(const struct fs *fs, enum inode_kind kind, fuse_ino_t ino, time_t when, size_t size,
	       struct stat *st)
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
int node_token_attr(struct fs *fs, const char *operation, enum inode_kind kind,
		    const struct rr_token *token, fuse_ino_t ino, struct stat *st)
{
	struct node_content content = {NULL, 0};
	int rc;

	/* A held text's size needs no copy of it: jwt.txt is the text and a newline. */
	if (kind == INODE_JWT && token->text_length != 0) {
		node_attr(fs, kind, ino, (time_t)token->created, token->text_length + 1, st);
		return 0;
	}
	if (node_is_file(kind)) {
		rc = node_content(fs, operation, kind, token, &content);
		if (rc != 0)
			return rc;
	}
	node_attr(fs, kind, ino, (time_t)token->created, content.length, st);
	secret_free(content.data);
	return 0;
}

/* Fills entry for the token's inode of kind and takes the reference the kernel will count. */
int node_token_entry(struct fs *fs, const char *operation, enum inode_kind kind,
		     const struct rr_token *token, double timeout, struct fuse_entry_param *entry)
{
	int rc;

	memset(entry, 0, sizeof(*entry));
	rc = node_token_attr(fs, operation, kind, token, 0, &entry->attr);
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
void node_reply_entry(fuse_req_t req, struct fs *fs, const struct fuse_entry_param *entry)
{
	if (fuse_reply_entry(req, entry) != 0 && entry->ino != 0)
		inode_unref(fs->inodes, entry->ino, 1);
}

int node_file_content(struct fs *fs, const char *operation, fuse_ino_t ino, char **data,
		      size_t *length)
{
	struct node_content content = {NULL, 0};
	char id[RR_TOKEN_ID_LENGTH + 1];
	enum inode_kind kind;
	struct rr_token token;
	int rc;

	rc = inode_resolve(fs->inodes, ino, &kind, id);
	if (rc == 0)
		rc = rr_client_token_get(fs->client, operation, id, &token);
	if (rc == 0)
		rc = node_content(fs, operation, kind, &token, &content);
	*data = content.data;
	*length = content.length;
	return rc;
}
