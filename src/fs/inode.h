/*
 * The inode table: which token an inode number stands for.
 *
 * The kernel names everything by inode number. Each token has a block of
 * four: its directory's number (a multiple of four) and its three files
 * right after it. The directory's number comes from the token's id (its
 * first 60 bits), so a token keeps its numbers for its whole life, across
 * forgets and remounts, a plain readdir can give the number a later lookup
 * will give without holding anything, and a stale number cannot name
 * another token. The root is INODE_ROOT_ID and belongs to no token.
 *
 * Offsets in the root's listing come from the ids too, from the same first
 * bits (see inode_dir_offset_after), so both schemes live here.
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

/* The root's number: the kernel's FUSE_ROOT_ID (ops.c checks that they agree). */
#define INODE_ROOT_ID 1

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

/* The number of the token's file of kind, given its directory's number. */
uint64_t inode_of_file(uint64_t directory, enum inode_kind kind);

/*
 * Offsets in the root's listing after "." (1) and ".." (2) come from the
 * ids: the entry of a token is followed at the first 62 bits of its id,
 * plus 3. A stream that goes on from there takes the next id of the
 * listing as it is then, whatever came and went in between, and nothing is
 * kept per stream. Two tokens sharing those bits (about one chance in
 * 10^11 among 10,000) could show as one.
 */
#define INODE_DIR_FIRST_TOKEN 2

/* The offset at which the root's listing goes on after the token of id. */
int64_t inode_dir_offset_after(const char *id);

/* The smallest id that may follow offset (past the dots); false when none can. */
bool inode_dir_resume(int64_t offset, char from[RR_TOKEN_ID_LENGTH + 1]);

/*
 * Whether the kernel was handed a file's bytes ahead of its first read
 * (see notify_file_looked_up); the mark lasts as long as the kernel holds the
 * token.
 */
bool inode_content_given(struct inode_table *table, uint64_t ino);
void inode_content_mark_given(struct inode_table *table, uint64_t ino);
void inode_content_forget_given(struct inode_table *table, uint64_t ino);

/*
 * Confirmation marks (rerobotsfs(1), "Revoking a token"). `rm -r` in a terminal checks each file
 * for write access before it asks, and removes the directory afterwards even when the user answered
 * no, counting on rmdir to fail ENOTEMPTY for the file it kept. So a refused write check marks the
 * file for the process that asked, unlinking it clears the mark, and an rmdir by that process while
 * a mark is left finds the directory not empty and revokes nothing. Marks of other processes (a
 * file manager showing the folder) count for nothing, and every rmdir of the token clears them.
 */
void inode_confirm_mark(struct inode_table *table, uint64_t ino, pid_t pid);
void inode_confirm_clear(struct inode_table *table, uint64_t ino, pid_t pid);
bool inode_confirm_declined(struct inode_table *table, const char *id, pid_t pid);

#endif
