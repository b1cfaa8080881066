/*
 * rerobotsfs: rerobots API tokens as a filesystem; rerobotsfs(1) says what it does.
 *
 *     $ rerobotsfs -o origin=http://127.0.0.1:8080,token_file=$HOME/.rerobots/jwt.txt ~/tokens
 *     $ mkdir ~/tokens/24h
 *     $ ls -l ~/tokens
 *     drwx------ 2 alice alice 0 Nov 28 16:42 6c1f...9d0e
 *     drwx------ 2 alice alice 0 Nov 28 09:10 e3b0...b855
 *     $ cat ~/tokens/6c1f...9d0e/expires
 *     2026-11-29T16:42:37Z
 *     $ cp ~/tokens/6c1f...9d0e/jwt.txt robot.jwt
 *     $ rmdir ~/tokens/6c1f...9d0e
 *     $ fusermount3 -u ~/tokens
 *
 * This file is the program's life: the options, the token, the one request
 * that checks the token before anything is mounted, the session and its
 * loop, and the teardown. The operations are in ops.c.
 */
#include "fs.h"

#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "credential.h"
#include "log.h"
#include "mountinfo.h"
#include "notify.h"
#include "ops.h"
#include "options.h"
#include "own.h"
#include "renew.h"
#include "secret.h"
#include "version.h"

/* Idle worker threads kept for the next burst of requests, unless -o max_idle_threads says. */
#define MAIN_IDLE_THREADS 10

/* The client, made and checked before mounting: a refused token mounts nothing. */
static struct rr_client *main_client(const struct options *options, const char *token)
{
	struct rr_client_options client_options = {
	    .origin = options->origin,
	    .token = token,
	    .timeout_seconds = options->timeout_seconds,
	    .list_ttl_seconds = options->list_ttl_seconds,
	    .cafile = options->cafile,
	    .insecure = options->insecure != 0,
	};
	struct rr_client *client;
	char message[1024];

	client = rr_client_new(&client_options);
	if (client == NULL)
		return NULL;
	if (rr_client_check(client, message, sizeof(message)) != 0) {
		log_error("%s", message);
		rr_client_free(client);
		return NULL;
	}
	return client;
}

static int main_loop(struct fuse_session *se, const struct fuse_cmdline_opts *cmdline)
{
	struct fuse_loop_config *config;
	int rc;

	if (cmdline->singlethread)
		return fuse_session_loop(se);
	config = fuse_loop_cfg_create();
	if (config == NULL)
		return -1;
	fuse_loop_cfg_set_clone_fd(config, (unsigned int)cmdline->clone_fd);
	fuse_loop_cfg_set_max_threads(config, cmdline->max_threads);
	fuse_loop_cfg_set_idle_threads(config, cmdline->max_idle_threads == UINT_MAX
						   ? MAIN_IDLE_THREADS
						   : cmdline->max_idle_threads);
	rc = fuse_session_loop_mt(se, config);
	fuse_loop_cfg_destroy(config);
	return rc;
}

/*
 * Mounts, serves until unmounted or signalled, unmounts; returns the exit
 * status. token_path is the file the token came from, NULL for the environment.
 */
static int main_serve(struct fs *fs, const struct fuse_cmdline_opts *cmdline,
		      const struct options *options, const char *token_path)
{
	struct fuse_session *se = fs->session;
	int status = 1;

	if (fuse_set_signal_handlers(se) != 0)
		return 1;
	if (fuse_session_mount(se, cmdline->mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(cmdline->foreground) != 0)
		goto out_unmount;
	log_init("rerobotsfs", !cmdline->foreground);
	fs->notify = notify_start(fs);
	if (fs->notify == NULL)
		goto out_unmount;
	fs->renew = renew_start(fs, token_path, options->renew != 0);
	if (fs->renew == NULL) {
		fuse_session_unmount(se);
		notify_stop(fs->notify);
		goto out_signals;
	}
	/* A signal that ends the loop is a clean stop, as an unmount is. */
	status = main_loop(se, cmdline) < 0 ? 1 : 0;
	/* Unmounting first ends any request the kernel still holds, so no notification can wait
	 * on it while the thread is joined. */
	fuse_session_unmount(se);
	/* The renewal may still finish a request, whose removals nobody tells the kernel of now. */
	notify_stop(fs->notify);
	renew_stop(fs->renew);
	goto out_signals;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
	return status;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmdline;
	struct options options;
	struct fs fs;
	char *token;
	char *token_path = NULL;
	int status = 1;

	/* No core dump or ptrace by another user may show the token. */
	prctl(PR_SET_DUMPABLE, 0);
	/*
	 * One malloc arena: every FUSE worker thread would otherwise get its own,
	 * each keeping what it freed (2 MiB more at 10,000 tokens), while the
	 * client's mutex serializes the allocations that matter anyway.
	 */
	mallopt(M_ARENA_MAX, 1);
	/*
	 * A fixed threshold: glibc would raise it after each large block freed, and
	 * then keep blocks of the size of a listing on the heap, where their pages
	 * stay resident.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	log_init("rerobotsfs", false);
	memset(&cmdline, 0, sizeof(cmdline));
	memset(&fs, 0, sizeof(fs));

	if (options_parse(&args, &options) != 0)
		goto out;
	if (fuse_parse_cmdline(&args, &cmdline) != 0)
		goto out;
	if (cmdline.show_help) {
		options_help(argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		status = 0;
		goto out;
	}
	if (cmdline.show_version) {
		printf("rerobotsfs version %s\n", rr_version);
		printf("FUSE library version %s\n", fuse_pkgversion());
		fuse_lowlevel_version();
		status = 0;
		goto out;
	}
	if (cmdline.mountpoint == NULL) {
		log_error("no mount point given; usage: %s [options] [ORIGIN] MOUNTPOINT", argv[0]);
		goto out;
	}
	if (mountinfo_has_rerobotsfs(cmdline.mountpoint)) {
		log_error("%s has a rerobotsfs mount already; to replace it, run "
			  "fusermount3 -u %s first",
			  cmdline.mountpoint, cmdline.mountpoint);
		goto out;
	}

	/* Made before the token is checked, so that a wrong mount option costs no request. */
	fs.session = fuse_session_new(&args, ops_table(), sizeof(struct fuse_lowlevel_ops), &fs);
	if (fs.session == NULL)
		goto out;
	token = credential_load(options.token_file, &token_path);
	if (token == NULL)
		goto out;
	fs.client = main_client(&options, token);
	secret_free(token);
	if (fs.client == NULL)
		goto out;
	fs.inodes = inode_table_new();
	fs.ops = ops_state_new();
	fs.own = own_new(&fs);
	if (fs.inodes == NULL || fs.ops == NULL || fs.own == NULL) {
		log_error("out of memory");
		goto out;
	}
	fs.list_ttl = (double)options.list_ttl_seconds;
	fs.uid = getuid();
	fs.gid = getgid();
	fs.mounted = time(NULL);
	fs.mountpoint = cmdline.mountpoint;
	status = main_serve(&fs, &cmdline, &options, token_path);
out:
	if (fs.session != NULL)
		fuse_session_destroy(fs.session);
	rr_client_free(fs.client);
	inode_table_free(fs.inodes);
	ops_state_free(fs.ops);
	own_free(fs.own);
	free(cmdline.mountpoint);
	free(token_path);
	options_free(&options);
	fuse_opt_free_args(&args);
	return status;
}
