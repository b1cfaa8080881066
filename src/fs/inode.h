/*
 * The inode table: which token an inode number stands for.
 *
 * The kernel names everything by inode number. Each token has a block of
 * four: its directory's number (a multiple of four) and its three files
 * right after it. The directory's number comes from the token's id (its
 * first 60 bits), so a token keeps its numbers for its whole life, across
 * forgets and remounts, a plain readdir can give the number a later lookup
 * will give without holding anything, and a stale number cannot name
 * another token. The root is FUSE_ROOT_ID and belongs to no token.
 *
 * The table holds the tokens the kernel holds: every entry reply (lookup,
 * mkdir, readdirplus) takes one reference on the inode it names, as the
 * kernel counts it; forget gives them back and the token leaves the table
 * when the last reference of its block goes.
 */
#ifndef RR_FS_INODE_H
#define RR_FS_INODE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <rerobots/client.h>

enum inode_kind {
	INODE_ROOT,
	INODE_TOKEN_DIR,
	INODE_JWT,
	INODE_CREATED,
	INODE_EXPIRES,
};

struct inode_table;

/* The name of a token's file of that kind in its directory; NULL for the directories. */
const char *inode_file_name(enum inode_kind kind);

struct inode_table *inode_table_new(void);
void inode_table_free(struct inode_table *table);

/* Takes one reference on the token's inode of that kind; its number, 0 without memory or for no id.
 */
uint64_t inode_ref(struct inode_table *table, const char *id, enum inode_kind kind);

/* Gives back count references on ino (forget, or an entry reply the kernel never got). */
void inode_unref(struct inode_table *table, uint64_t ino, uint64_t count);

/*
 * What ino stands for: its kind and, for a token's inodes, the token id
 * copied into id. -ENOENT for a number the table does not hold.
 */
int inode_resolve(struct inode_table *table, uint64_t ino, enum inode_kind *kind,
		  char id[RR_TOKEN_ID_LENGTH + 1]);

/* The number of the token's directory, whether or not the kernel holds it. */
uint64_t inode_number(struct inode_table *table, const char *id);

/*
 * Whether the kernel was handed a file's bytes ahead of its first read
 * (see ops_give_content); the mark lasts as long as the kernel holds the
 * token.
 */
bool inode_content_given(struct inode_table *table, uint64_t ino);
void inode_content_mark_given(struct inode_table *table, uint64_t ino);
void inode_content_forget_given(struct inode_table *table, uint64_t ino);

/*
 * Confirmation marks (SPEC 2.3). `rm -r` in a terminal checks each file for
 * write access before it asks, and removes the directory afterwards even
 * when the user answered no, counting on rmdir to fail ENOTEMPTY for the
 * file it kept. So a refused write check marks the file for the process
 * that asked, unlinking it clears the mark, and an rmdir by that process
 * while a mark is left finds the directory not empty and revokes nothing.
 * Marks of other processes (a file manager showing the folder) count for
 * nothing, and every rmdir of the token clears them.
 */
void inode_confirm_mark(struct inode_table *table, uint64_t ino, pid_t pid);
void inode_confirm_clear(struct inode_table *table, uint64_t ino, pid_t pid);
bool inode_confirm_declined(struct inode_table *table, const char *id, pid_t pid);

#endif
