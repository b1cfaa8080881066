/*
 * The inode table of inode.h: two search trees over the same entries, one
 * keyed by token id (lookups name tokens), one by inode number (every other
 * request names inodes), under one mutex.
 *
 * Two ids that share their first 60 bits (less than one chance in 10^10
 * among 10,000 tokens) would want the same block; the second then takes
 * the next free one, which only a plain readdir could show differently.
 */
#include "inode.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token_id.h"

/* A token's block: its directory's number, then one number per file. */
#define INODE_BLOCK 4

struct inode_entry {
	uint64_t ino;			  /* the directory's number; the files follow it */
	unsigned char id[TOKEN_ID_BYTES]; /* binary: half the size of the hex the kernel sees */
	uint64_t references;		  /* over the whole block */
	pid_t confirm_pid;		  /* the process the marks are for */
	unsigned int confirm_marks;	  /* one bit per file: 1 << (ino % INODE_BLOCK) */
	unsigned int given_files;	  /* the same bits: content handed to the kernel */
};

struct inode_table {
	pthread_mutex_t lock;
	void *by_id;
	void *by_ino;
};

static int inode_compare_id(const void *a, const void *b)
{
	const struct inode_entry *left = a;
	const struct inode_entry *right = b;

	return memcmp(left->id, right->id, sizeof(left->id));
}

static int inode_compare_ino(const void *a, const void *b)
{
	const struct inode_entry *left = a;
	const struct inode_entry *right = b;

	return (left->ino > right->ino) - (left->ino < right->ino);
}

const char *inode_file_name(enum inode_kind kind)
{
	switch (kind) {
	case INODE_JWT:
		return "jwt.txt";
	case INODE_CREATED:
		return "created";
	case INODE_EXPIRES:
		return "expires";
	default:
		return NULL;
	}
}

struct inode_table *inode_table_new(void)
{
	struct inode_table *table = calloc(1, sizeof(*table));

	if (table == NULL)
		return NULL;
	pthread_mutex_init(&table->lock, NULL);
	return table;
}

/* Both trees hold the same entries: the second one to go frees them. */
static void inode_keep(void *entry)
{
}

void inode_table_free(struct inode_table *table)
{
	if (table == NULL)
		return;
	tdestroy(table->by_id, inode_keep);
	tdestroy(table->by_ino, free);
	pthread_mutex_destroy(&table->lock);
	free(table);
}

static struct inode_entry *inode_lookup_id(struct inode_table *table, const char *id)
{
	struct inode_entry key;
	void *node;

	if (!token_id_to_bytes(id, key.id))
		return NULL;
	node = tfind(&key, &table->by_id, inode_compare_id);
	return node == NULL ? NULL : *(struct inode_entry **)node;
}

static struct inode_entry *inode_lookup_ino(struct inode_table *table, uint64_t ino)
{
	struct inode_entry key;
	void *node;

	key.ino = ino - ino % INODE_BLOCK;
	node = tfind(&key, &table->by_ino, inode_compare_ino);
	return node == NULL ? NULL : *(struct inode_entry **)node;
}

/* The first 64 bits of an id (its first 16 hex digits): where both numberings start. */
static uint64_t inode_id_bits(const char *id)
{
	uint64_t bits = 0;

	for (int i = 0; i < 16; i++)
		bits = bits * 16 + (uint64_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
	return bits;
}

/* The block an id wants: its first 60 bits, times four; never 0 nor the root's. */
static uint64_t inode_derive(const char *id)
{
	uint64_t number = inode_id_bits(id) >> 4;

	return number == 0 ? INODE_BLOCK : number * INODE_BLOCK;
}

uint64_t inode_of_file(uint64_t directory, enum inode_kind kind)
{
	return directory + (uint64_t)(kind - INODE_TOKEN_DIR);
}

int64_t inode_dir_offset_after(const char *id)
{
	return (int64_t)(inode_id_bits(id) >> 2) + INODE_DIR_FIRST_TOKEN + 1;
}

bool inode_dir_resume(int64_t offset, char from[RR_TOKEN_ID_LENGTH + 1])
{
	uint64_t next = (uint64_t)(offset - INODE_DIR_FIRST_TOKEN - 1) + 1;

	if (next >> 62 != 0)
		return false;
	snprintf(from, RR_TOKEN_ID_LENGTH + 1, "%016" PRIx64 "%048d", next << 2, 0);
	return true;
}

static struct inode_entry *inode_insert(struct inode_table *table, const char *id)
{
	struct inode_entry *entry = calloc(1, sizeof(*entry));

	if (entry == NULL)
		return NULL;
	if (!token_id_to_bytes(id, entry->id)) {
		free(entry);
		return NULL;
	}
	entry->ino = inode_derive(id);
	while (inode_lookup_ino(table, entry->ino) != NULL)
		entry->ino += INODE_BLOCK;
	if (tsearch(entry, &table->by_id, inode_compare_id) == NULL) {
		free(entry);
		return NULL;
	}
	if (tsearch(entry, &table->by_ino, inode_compare_ino) == NULL) {
		tdelete(entry, &table->by_id, inode_compare_id);
		free(entry);
		return NULL;
	}
	return entry;
}

uint64_t inode_ref(struct inode_table *table, const char *id, enum inode_kind kind)
{
	struct inode_entry *entry;
	uint64_t ino = 0;

	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_id(table, id);
	if (entry == NULL)
		entry = inode_insert(table, id);
	if (entry != NULL) {
		entry->references++;
		ino = inode_of_file(entry->ino, kind);
	}
	pthread_mutex_unlock(&table->lock);
	return ino;
}

void inode_unref(struct inode_table *table, uint64_t ino, uint64_t count)
{
	struct inode_entry *entry;

	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_ino(table, ino);
	if (entry != NULL) {
		entry->references -= count < entry->references ? count : entry->references;
		if (entry->references == 0) {
			tdelete(entry, &table->by_id, inode_compare_id);
			tdelete(entry, &table->by_ino, inode_compare_ino);
			free(entry);
		}
	}
	pthread_mutex_unlock(&table->lock);
}

int inode_resolve(struct inode_table *table, uint64_t ino, enum inode_kind *kind,
		  char id[RR_TOKEN_ID_LENGTH + 1])
{
	struct inode_entry *entry;
	int rc = -ENOENT;

	if (ino == INODE_ROOT_ID) {
		*kind = INODE_ROOT;
		return 0;
	}
	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_ino(table, ino);
	if (entry != NULL) {
		*kind = (enum inode_kind)(INODE_TOKEN_DIR + (int)(ino % INODE_BLOCK));
		token_id_from_bytes(entry->id, id);
		rc = 0;
	}
	pthread_mutex_unlock(&table->lock);
	return rc;
}

uint64_t inode_number(struct inode_table *table, const char *id)
{
	struct inode_entry *entry;
	uint64_t ino;

	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_id(table, id);
	ino = entry == NULL ? inode_derive(id) : entry->ino;
	pthread_mutex_unlock(&table->lock);
	return ino;
}

bool inode_content_given(struct inode_table *table, uint64_t ino)
{
	struct inode_entry *entry;
	bool given;

	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_ino(table, ino);
	given = entry != NULL && (entry->given_files & (1u << (ino % INODE_BLOCK)));
	pthread_mutex_unlock(&table->lock);
	return given;
}

void inode_content_mark_given(struct inode_table *table, uint64_t ino)
{
	struct inode_entry *entry;

	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_ino(table, ino);
	if (entry != NULL)
		entry->given_files |= 1u << (ino % INODE_BLOCK);
	pthread_mutex_unlock(&table->lock);
}

void inode_content_forget_given(struct inode_table *table, uint64_t ino)
{
	struct inode_entry *entry;

	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_ino(table, ino);
	if (entry != NULL)
		entry->given_files &= ~(1u << (ino % INODE_BLOCK));
	pthread_mutex_unlock(&table->lock);
}

void inode_confirm_mark(struct inode_table *table, uint64_t ino, pid_t pid)
{
	struct inode_entry *entry;

	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_ino(table, ino);
	if (entry != NULL) {
		if (entry->confirm_pid != pid)
			entry->confirm_marks = 0;
		entry->confirm_pid = pid;
		entry->confirm_marks |= 1u << (ino % INODE_BLOCK);
	}
	pthread_mutex_unlock(&table->lock);
}

void inode_confirm_clear(struct inode_table *table, uint64_t ino, pid_t pid)
{
	struct inode_entry *entry;

	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_ino(table, ino);
	if (entry != NULL && entry->confirm_pid == pid)
		entry->confirm_marks &= ~(1u << (ino % INODE_BLOCK));
	pthread_mutex_unlock(&table->lock);
}

bool inode_confirm_declined(struct inode_table *table, const char *id, pid_t pid)
{
	struct inode_entry *entry;
	bool declined = false;

	pthread_mutex_lock(&table->lock);
	entry = inode_lookup_id(table, id);
	if (entry != NULL) {
		declined = entry->confirm_pid == pid && entry->confirm_marks != 0;
		entry->confirm_marks = 0;
	}
	pthread_mutex_unlock(&table->lock);
	return declined;
}
