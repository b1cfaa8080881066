/*
 * Kernel notifications for tokens that went away by themselves, for the
 * bytes of looked-up files, and for pages a refused write spoiled; see
 * notify.h.
 *
 * About four times a second the thread asks the client which tokens left
 * its cache without a local revoke, and for each one drops the root's entry
 * in the kernel with fuse_lowlevel_notify_delete (which also tells inotify
 * watchers, so an open file manager view updates), falling back to
 * fuse_lowlevel_notify_inval_entry. These calls wait for the kernel's lock
 * on the root directory, which a request in progress may hold until its
 * reply: that is why they are made here and never from a request handler.
 * -ENOENT (the kernel never looked the token up) is the common answer.
 * While the mount goes away the thread may still be told -ENODEV or
 * -EBADF; main.c unmounts before it stops the thread, since a notification
 * stuck behind a request nobody will answer any more only ends then.
 *
 * Files whose pages a handler reports are dealt with as soon as it does, in
 * the order reported. A looked-up file's bytes go to the page cache with
 * fuse_lowlevel_notify_store, which waits for each page's lock: a reader
 * holds it until its READ is answered, by a request handler that may be
 * the only one (-s). Spoiled pages are dropped with
 * fuse_lowlevel_notify_inval_inode, which waits for the pages' writeback:
 * that is the refused write itself, reported only after its reply. Neither
 * call is made with a lock held that a request handler could need.
 */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "secret.h"

#define NOTIFY_INTERVAL_NS (250 * 1000 * 1000L)
#define NOTIFY_BATCH	   64

/* A file whose pages are to be filled (due) or dropped (spoiled). */
struct notify_pages {
	fuse_ino_t ino;
	bool spoiled;
};

struct notify {
	struct fs *fs;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct notify_pages *pages; /* in the order reported */
	size_t pages_count;
	size_t pages_size;
};

/* Answers that leave nothing to tell: no such entry, or a session going away. */
static bool notify_nothing_to_tell(int rc)
{
	return rc == 0 || rc == -ENOENT || rc == -ENODEV || rc == -EBADF;
}

static void notify_token_gone(struct notify *notify, const char *id)
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

		fuse_lowlevel_notify_delete(fs->session, ino,
					    ino + (fuse_ino_t)(kind - INODE_TOKEN_DIR), name,
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

void notify_pages_due(struct notify *notify, fuse_ino_t ino)
{
	notify_queue_pages(notify, ino, false);
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
	    ops_file_content(fs, "lookup", ino, &data, &length) != 0)
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

static void notify_collect(struct notify *notify)
{
	char ids[NOTIFY_BATCH][RR_TOKEN_ID_LENGTH + 1];
	size_t total = 0;
	size_t count;

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

static void *notify_run(void *data)
{
	struct notify *notify = data;
	struct timespec deadline;

	pthread_mutex_lock(&notify->lock);
	while (!notify->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += NOTIFY_INTERVAL_NS;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
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
		notify_collect(notify);
		pthread_mutex_lock(&notify->lock);
	}
	pthread_mutex_unlock(&notify->lock);
	return NULL;
}

/*
 * libfuse's signal handlers end the session loop only when the signal
 * interrupts the main thread's wait, and libfuse blocks these signals in its
 * own worker threads for that reason. A thread of ours that took SIGTERM
 * would leave the loop running, so it blocks them too; threads inherit the
 * mask of their creator.
 */
static int notify_create_thread(struct notify *notify)
{
	sigset_t blocked;
	sigset_t saved;
	int rc;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGHUP);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGQUIT);
	sigaddset(&blocked, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &blocked, &saved);
	rc = pthread_create(&notify->thread, NULL, notify_run, notify);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return rc;
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
	rc = notify_create_thread(notify);
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
	pthread_cond_destroy(&notify->wake);
	pthread_mutex_destroy(&notify->lock);
	free(notify);
}
