/*
 * What each inode of a token shows: its attributes, the bytes of its
 * files, and the entry a lookup, mkdir or readdirplus hands the kernel.
 * Shared by the request handlers (ops.c, dir.c) and the notification
 * thread, which hands files' bytes to the page cache.
 */
#ifndef RR_FS_NODE_H
#define RR_FS_NODE_H

#include <stdbool.h>
#include <sys/stat.h>

#include "fs.h"

/* The files of a token's directory after "." and "..", in listing order. */
#define NODE_FILE_COUNT 3
extern const enum inode_kind node_file_kinds[NODE_FILE_COUNT];

/* A file's bytes; released with secret_free, since jwt.txt's are the token. */
struct node_content {
	char *data;
	size_t length;
};

/* The kind of the file called name in a token's directory, or INODE_ROOT for none. */
enum inode_kind node_file_kind(const char *name);

bool node_is_file(enum inode_kind kind);

/* The bytes of a token's file; token is the token's metadata. */
int node_content(struct fs *fs, const char *operation, enum inode_kind kind,
		 const struct rr_token *token, struct node_content *content);

/* The attributes of an inode of kind, with times when and size bytes. */
void node_attr(const struct fs *fs, enum inode_kind kind, fuse_ino_t ino, time_t when, size_t size,
	       struct stat *st);

/* The attributes of a token's inode of kind, sizes exact (jwt.txt's reads the text unless held). */
int node_token_attr(struct fs *fs, const char *operation, enum inode_kind kind,
		    const struct rr_token *token, fuse_ino_t ino, struct stat *st);

/* Fills entry for the token's inode of kind and takes the reference the kernel will count. */
int node_token_entry(struct fs *fs, const char *operation, enum inode_kind kind,
		     const struct rr_token *token, double timeout, struct fuse_entry_param *entry);

/* Replies with entry; a reply the kernel never got takes back the entry's reference. */
void node_reply_entry(fuse_req_t req, struct fs *fs, const struct fuse_entry_param *entry);

/*
 * The bytes of file ino, for the notification thread to hand to the page
 * cache: 0 with *data to release with secret_free(), or -errno.
 */
int node_file_content(struct fs *fs, const char *operation, fuse_ino_t ino, char **data,
		      size_t *length);

#endif
