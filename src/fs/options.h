/*
 * The driver's own -o options (rerobotsfs(1), OPTIONS), parsed with fuse_opt so that they
 * work from a command line, from /etc/fstab and from a systemd mount unit
 * alike. libfuse's options stay in the argument list for libfuse.
 *
 * mount(8) runs `rerobotsfs SOURCE MOUNTPOINT -o OPTIONS` through
 * mount.fuse3, SOURCE being the first field of the fstab line: an http or
 * https URL there is the origin (unless -o origin= says otherwise), any
 * other word ("rerobotsfs", "none") means nothing.
 */
#ifndef RR_FS_OPTIONS_H
#define RR_FS_OPTIONS_H

#include <stdbool.h>

#include "fs.h"

struct options {
	char *source; /* the first of two arguments that are no options, as mount.fuse3 passes */
	bool mountpoint_seen;
	char *origin;
	char *token_file;
	char *timeout;	/* as given; NULL for the default */
	char *list_ttl; /* as given; NULL for the default */
	char *cafile;
	int insecure;
	int renew;
	bool others_allowed; /* allow_other or allow_root */

	/* Filled in by options_parse from the texts above. */
	long timeout_seconds;
	long list_ttl_seconds;
};

/*
 * Takes the driver's options out of args, checks them, fills in the
 * defaults and adds the mount options the driver always sets (subtype,
 * fsname, default_permissions with allow_other or allow_root). Returns 0, or -1 after
 * saying why on stderr.
 */
int options_parse(struct fuse_args *args, struct options *options);

/* Prints the usage line and the driver's own options, for --help. */
void options_help(const char *program);

void options_free(struct options *options);

#endif
