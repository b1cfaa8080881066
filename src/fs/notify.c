/*
 * Kernel notifications for tokens that came or went without a local mkdir
 * or rmdir, for the bytes of looked-up files, and for pages a refused
 * write spoiled; see notify.h.
 *
 * File managers learn of changes only through inotify, and the kernel
 * raises inotify events only for VFS operations, not for FUSE
 * notifications: so the thread tells the kernel of a token by calling
 * rmdir, mkdir or renameat2 on the mount itself (own.c). Where the VFS call
 * fails (no such root, a mount on the token's directory, the mount going
 * away), the kernel is told with FUSE notifications instead, which keep
 * `ls` right but raise no event.
 *
 * About four times a second the thread asks the client which tokens left
 * its cache without a local revoke, or came into it with a listing. The
 * fallback for a token gone drops the root's entry in the kernel with
 * fuse_lowlevel_notify_delete, else fuse_lowlevel_notify_inval_entry.
 * These calls, and the VFS calls, wait for the kernel's lock on the root
 * directory, which a request in progress may hold until its reply: that is
 * why they are made here and never from a request handler, and why the
 * thread holds no lock a handler needs while it makes them. -ENOENT (the
 * kernel never looked the token up) is the common answer. While the mount
 * goes away the thread may still be told -ENODEV, -EBADF or -ENOTCONN;
 * main.c unmounts before it stops the thread, since a call stuck behind a
 * request nobody will answer any more only ends then.
 *
 * Files whose pages a handler reports are dealt with as soon as it does, in
 * the order reported. A looked-up file's bytes go to the page cache with
 * fuse_lowlevel_notify_store, which waits for each page's lock: a reader
 * holds it until its READ is answered, by a request handler that may be
 * the only one (-s). Spoiled pages are dropped with
 * fuse_lowlevel_notify_inval_inode, which waits for the pages' writeback:
 * that is the refused write itself, reported only after its reply.
 */
#include "notify.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monotonic.h"
#include "node.h"
#include "own.h"
#include "secret.h"
#include "thread.h"

#define NOTIFY_INTERVAL_MS 250
#define NOTIFY_BATCH	   64
/*
 * How long a mkdir's duration name stays before it is renamed to the
 * token's id: long enough for `mkdir 24h && cat 24h/jwt.txt`, short enough
 * for an open view to show the id within a second.
 */
#define NOTIFY_RENAME_DELAY_MS 500

/* A file whose pages are to be filled (due) or dropped (spoiled). */
struct notify_pages {
	fuse_ino_t ino;
	bool spoiled;
};

/* A mkdir's duration name, to be renamed to its token's id when due. */
struct notify_rename {
	char name[NAME_MAX + 1];
	struct rr_token token;
	int64_t due_ms; /* monotonic */
	bool revoked;	/* by an rmdir of the id here: the name goes instead */
};

struct notify {
	struct fs *fs;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	/* The file whose bytes go to the page cache at the next lookup of a file. */
	fuse_ino_t looked_up;
	struct notify_pages *pages; /* in the order reported */
	size_t pages_count;
	size_t pages_size;
	struct notify_rename *renames; /* in the order made, so by due time */
	size_t renames_count;
	size_t renames_size;
};

/* Answers that leave nothing to tell: no such entry, or a session going away. */
static bool notify_nothing_to_tell(int rc)
{
	return rc == 0 || rc == -ENOENT || rc == -ENODEV || rc == -EBADF;
}

/* Without an event: what the kernel is told where the VFS call failed. */
static void notify_token_gone_quietly(struct notify *notify, const char *id)
{
	struct fs *fs = notify->fs;
	fuse_ino_t ino = inode_number(fs->inodes, id);
	int rc;

	/*
	 * The kernel refuses (-ENOTEMPTY) to drop a directory while it holds a file
	 * in it that is in use, an open one say: its files go first. The
	 * fallbacks are an old kernel (-ENOSYS) and a mount on the directory.
	 */
	for (enum inode_kind kind = INODE_JWT; kind <= INODE_EXPIRES; kind++) {
		const char *name = inode_file_name(kind);

		fuse_lowlevel_notify_delete(fs->session, ino, inode_of_file(ino, kind), name,
					    strlen(name));
	}
	rc = fuse_lowlevel_notify_delete(fs->session, FUSE_ROOT_ID, ino, id, RR_TOKEN_ID_LENGTH);
	if (notify_nothing_to_tell(rc))
		return;
	rc = fuse_lowlevel_notify_inval_entry(fs->session, FUSE_ROOT_ID, id, RR_TOKEN_ID_LENGTH);
	if (!notify_nothing_to_tell(rc) && rc != -ENOSYS)
		log_warning("cannot tell the kernel that token %.12s... is gone: %s", id,
			    strerror(-rc));
}

/*
 * The kernel's copy of the root listing (see ops.c) may hold a token it
 * never looked up, which no entry notification reaches: drop the copy.
 */
static void notify_root_changed(struct notify *notify)
{
	int rc = fuse_lowlevel_notify_inval_inode(notify->fs->session, FUSE_ROOT_ID, 0, 0);

	if (!notify_nothing_to_tell(rc) && rc != -ENOSYS)
		log_warning("cannot tell the kernel that the root listing changed: %s",
			    strerror(-rc));
}

static void notify_queue_pages(struct notify *notify, fuse_ino_t ino, bool spoiled)
{
	struct notify_pages *grown;
	size_t size;

	pthread_mutex_lock(&notify->lock);
	if (notify->pages_count == notify->pages_size) {
		size = notify->pages_size == 0 ? NOTIFY_BATCH : 2 * notify->pages_size;
		grown = realloc(notify->pages, size * sizeof(*grown));
		if (grown == NULL) {
			pthread_mutex_unlock(&notify->lock);
			/* Bytes not handed over are only read on demand instead. */
			if (spoiled)
				log_warning("cannot drop the kernel's pages of inode %llu: "
					    "out of memory",
					    (unsigned long long)ino);
			return;
		}
		notify->pages = grown;
		notify->pages_size = size;
	}
	notify->pages[notify->pages_count].ino = ino;
	notify->pages[notify->pages_count].spoiled = spoiled;
	notify->pages_count++;
	pthread_cond_signal(&notify->wake);
	pthread_mutex_unlock(&notify->lock);
}

void notify_pages_spoiled(struct notify *notify, fuse_ino_t ino)
{
	notify_queue_pages(notify, ino, true);
}

/*
 * The kernel makes a looked-up file's inode only once the reply is in, so
 * its bytes are handed over at the next lookup of a file (see notify.h).
 */
void notify_file_looked_up(struct notify *notify, fuse_ino_t ino)
{
	fuse_ino_t previous;

	pthread_mutex_lock(&notify->lock);
	previous = notify->looked_up;
	notify->looked_up = ino;
	pthread_mutex_unlock(&notify->lock);
	if (previous != 0 && previous != ino)
		notify_queue_pages(notify, previous, false);
}

/*
 * Hands a file's bytes to the page cache, once per inode while the kernel
 * holds it. A store that finds no inode (the kernel forgot it), or fails,
 * only leaves the read to ask.
 */
static void notify_store_pages(struct notify *notify, fuse_ino_t ino)
{
	struct fs *fs = notify->fs;
	struct fuse_bufvec bufv = FUSE_BUFVEC_INIT(0);
	char *data;
	size_t length;

	if (inode_content_given(fs->inodes, ino) ||
	    node_file_content(fs, "lookup", ino, &data, &length) != 0)
		return;
	bufv.buf[0].mem = data;
	bufv.buf[0].size = length;
	if (fuse_lowlevel_notify_store(fs->session, ino, 0, &bufv, 0) == 0)
		inode_content_mark_given(fs->inodes, ino);
	secret_free(data);
}

static void notify_drop_pages(struct notify *notify, fuse_ino_t ino)
{
	int rc;

	inode_content_forget_given(notify->fs->inodes, ino);
	rc = fuse_lowlevel_notify_inval_inode(notify->fs->session, ino, 0, 0);
	if (!notify_nothing_to_tell(rc))
		log_warning("cannot drop the kernel's pages of inode %llu: %s",
			    (unsigned long long)ino, strerror(-rc));
}

/* Called with notify->lock held, which it lets go while it tells the kernel. */
static void notify_handle_pages(struct notify *notify)
{
	struct notify_pages *pages = notify->pages;
	size_t count = notify->pages_count;

	notify->pages = NULL;
	notify->pages_count = 0;
	notify->pages_size = 0;
	pthread_mutex_unlock(&notify->lock);
	for (size_t i = 0; i < count; i++) {
		if (pages[i].spoiled)
			notify_drop_pages(notify, pages[i].ino);
		else
			notify_store_pages(notify, pages[i].ino);
	}
	free(pages);
	pthread_mutex_lock(&notify->lock);
}

void notify_token_made(struct notify *notify, const char *name, const struct rr_token *token)
{
	struct notify_rename *grown;
	struct notify_rename *rename;
	size_t size;

	if (strlen(name) > NAME_MAX)
		return;
	pthread_mutex_lock(&notify->lock);
	if (notify->renames_count == notify->renames_size) {
		size = notify->renames_size == 0 ? NOTIFY_BATCH : 2 * notify->renames_size;
		grown = realloc(notify->renames, size * sizeof(*grown));
		if (grown == NULL) {
			/* The name then just times out in the kernel, without an event. */
			pthread_mutex_unlock(&notify->lock);
			return;
		}
		notify->renames = grown;
		notify->renames_size = size;
	}
	rename = &notify->renames[notify->renames_count++];
	strcpy(rename->name, name);
	rename->token = *token;
	rename->revoked = false;
	rename->due_ms = monotonic_ms() + NOTIFY_RENAME_DELAY_MS;
	pthread_cond_signal(&notify->wake);
	pthread_mutex_unlock(&notify->lock);
}

void notify_token_revoked(struct notify *notify, const char *id)
{
	pthread_mutex_lock(&notify->lock);
	for (size_t i = 0; i < notify->renames_count; i++) {
		if (strcmp(notify->renames[i].token.id, id) == 0) {
			notify->renames[i].revoked = true;
			notify->renames[i].due_ms = monotonic_ms();
			pthread_cond_signal(&notify->wake);
		}
	}
	pthread_mutex_unlock(&notify->lock);
}

/*
 * The name of a token revoked before it was renamed goes: a view that met
 * the id first (a readdirplus moves the directory's one dentry to it, with
 * no event) saw the id deleted, and still shows the name.
 */
static void notify_rename_revoked(struct notify *notify, const struct notify_rename *rename)
{
	struct own_call call = {.kind = OWN_CALL_RMDIR, .token = rename->token};

	strcpy(call.name, rename->name);
	if (own_vfs_call(notify->fs->own, &call) != 0)
		fuse_lowlevel_notify_inval_entry(notify->fs->session, FUSE_ROOT_ID, rename->name,
						 strlen(rename->name));
}

/*
 * The duration name becomes the token's id. Where that fails, the id is
 * made as a new entry, and the name is dropped quietly.
 */
static void notify_rename(struct notify *notify, const struct notify_rename *rename)
{
	struct fs *fs = notify->fs;
	struct own_call call = {.kind = OWN_CALL_RENAME, .token = rename->token};

	int rc;

	if (rename->revoked) {
		notify_rename_revoked(notify, rename);
		return;
	}
	strcpy(call.name, rename->name);
	strcpy(call.new_name, rename->token.id);
	rc = own_vfs_call(notify->fs->own, &call);
	if (rc == 0)
		return;
	/* A name that leads to another token now is that token's to rename. */
	if (rc != -ESTALE)
		fuse_lowlevel_notify_inval_entry(fs->session, FUSE_ROOT_ID, rename->name,
						 strlen(rename->name));
	call.kind = OWN_CALL_MKDIR;
	call.name[0] = '\0';
	if (own_vfs_call(notify->fs->own, &call) != 0)
		notify_root_changed(notify);
}

/*
 * Takes the renames due by now out of the queue, or, with id, the one of
 * that token whenever due; called with notify->lock held. Returns how many
 * were copied into out (at most max).
 */
static size_t notify_take_renames(struct notify *notify, const char *id, struct notify_rename *out,
				  size_t max)
{
	int64_t now_ms = monotonic_ms();
	size_t taken = 0;
	size_t kept = 0;

	for (size_t i = 0; i < notify->renames_count; i++) {
		struct notify_rename *rename = &notify->renames[i];
		bool take =
		    id != NULL ? strcmp(rename->token.id, id) == 0 : rename->due_ms <= now_ms;

		if (take && taken < max)
			out[taken++] = *rename;
		else
			notify->renames[kept++] = *rename;
	}
	notify->renames_count = kept;
	return taken;
}

/* Makes the renames due now, or with id the one of that token; called without notify->lock. */
static void notify_do_renames(struct notify *notify, const char *id)
{
	struct notify_rename renames[8];
	size_t count;

	do {
		pthread_mutex_lock(&notify->lock);
		count = notify_take_renames(notify, id, renames, 8);
		pthread_mutex_unlock(&notify->lock);
		for (size_t i = 0; i < count; i++)
			notify_rename(notify, &renames[i]);
	} while (count == 8);
}

static void notify_token_gone(struct notify *notify, const char *id)
{
	struct own_call call = {.kind = OWN_CALL_RMDIR};

	/* A token gone before its duration name was renamed: the id first, then gone. */
	notify_do_renames(notify, id);
	strcpy(call.name, id);
	strcpy(call.token.id, id);
	if (own_vfs_call(notify->fs->own, &call) != 0)
		notify_token_gone_quietly(notify, id);
}

static void notify_token_added(struct notify *notify, const struct rr_token *token)
{
	struct own_call call = {.kind = OWN_CALL_MKDIR, .token = *token};

	strcpy(call.new_name, token->id);
	own_vfs_call(notify->fs->own, &call);
}

/*
 * Tokens added are told first: one that came and went between two rounds
 * is then made and removed, in that order.
 */
static void notify_collect(struct notify *notify)
{
	char ids[NOTIFY_BATCH][RR_TOKEN_ID_LENGTH + 1];
	struct rr_token added[NOTIFY_BATCH];
	size_t total = 0;
	size_t count;

	do {
		count = rr_client_collect_added(notify->fs->client, added, NOTIFY_BATCH);
		for (size_t i = 0; i < count; i++)
			notify_token_added(notify, &added[i]);
		total += count;
	} while (count == NOTIFY_BATCH);
	do {
		count = rr_client_collect_removed(notify->fs->client, (int64_t)time(NULL), ids,
						  NOTIFY_BATCH);
		for (size_t i = 0; i < count; i++)
			notify_token_gone(notify, ids[i]);
		total += count;
	} while (count == NOTIFY_BATCH);
	if (total > 0)
		notify_root_changed(notify);
}

/* The next round: in a quarter second, or when the first rename is due if sooner. */
static void notify_next_round(struct notify *notify, struct timespec *deadline)
{
	int64_t when_ms = monotonic_ms() + NOTIFY_INTERVAL_MS;

	if (notify->renames_count > 0 && notify->renames[0].due_ms < when_ms)
		when_ms = notify->renames[0].due_ms;
	*deadline = monotonic_timespec(when_ms);
}

static void *notify_run(void *data)
{
	struct notify *notify = data;
	struct timespec deadline;

	own_prepare(notify->fs->own);
	pthread_mutex_lock(&notify->lock);
	while (!notify->stopping) {
		notify_next_round(notify, &deadline);
		/*
		 * Files reported while the lock was let go woke nobody: no wait for
		 * them. A spurious wakeup only makes one round early.
		 */
		if (notify->pages_count == 0)
			pthread_cond_timedwait(&notify->wake, &notify->lock, &deadline);
		if (notify->stopping)
			break;
		if (notify->pages_count > 0)
			notify_handle_pages(notify);
		pthread_mutex_unlock(&notify->lock);
		notify_do_renames(notify, NULL);
		notify_collect(notify);
		pthread_mutex_lock(&notify->lock);
	}
	pthread_mutex_unlock(&notify->lock);
	return NULL;
}

struct notify *notify_start(struct fs *fs)
{
	struct notify *notify = calloc(1, sizeof(*notify));
	pthread_condattr_t attr;
	int rc;

	if (notify == NULL) {
		log_error("cannot start the notification thread: out of memory");
		return NULL;
	}
	notify->fs = fs;
	pthread_mutex_init(&notify->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&notify->wake, &attr);
	pthread_condattr_destroy(&attr);
	rc = thread_create(&notify->thread, notify_run, notify);
	if (rc != 0) {
		log_error("cannot start the notification thread: %s", strerror(rc));
		pthread_cond_destroy(&notify->wake);
		pthread_mutex_destroy(&notify->lock);
		free(notify);
		return NULL;
	}
	return notify;
}

void notify_stop(struct notify *notify)
{
	if (notify == NULL)
		return;
	pthread_mutex_lock(&notify->lock);
	notify->stopping = true;
	pthread_cond_signal(&notify->wake);
	pthread_mutex_unlock(&notify->lock);
	pthread_join(notify->thread, NULL);
	free(notify->pages);
	free(notify->renames);
	pthread_cond_destroy(&notify->wake);
	pthread_mutex_destroy(&notify->lock);
	free(notify);
}
