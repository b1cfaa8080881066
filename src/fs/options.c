/*
 * fuse_opt parsing of the driver's -o options; see options.h.
 *
 * Numbers are taken as text ("timeout=%s") and checked here rather than
 * with "%u", which would accept "-1" as a huge number; a NULL text tells a
 * default from a value the user gave.
 */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define OPTIONS_DEFAULT_ORIGIN "https://api.rerobots.net"
/*
 * The ranges of timeout= and list_ttl= are checked here and only here, where
 * the user is told which option is wrong, with the limits rerobotsfs(1)
 * gives; the client takes what it is given.
 */
#define OPTIONS_DEFAULT_TIMEOUT	 10
#define OPTIONS_MAX_TIMEOUT	 3600
#define OPTIONS_DEFAULT_LIST_TTL 10
#define OPTIONS_MAX_LIST_TTL	 30

enum {
	OPTIONS_KEY_TOKEN,
	OPTIONS_KEY_OTHERS_ALLOWED,
};

#define OPTION(template, field)                                                                    \
	{                                                                                          \
		template, offsetof(struct options, field), 1                                       \
	}

static const struct fuse_opt options_table[] = {
    OPTION("origin=%s", origin),
    OPTION("token_file=%s", token_file),
    OPTION("timeout=%s", timeout),
    OPTION("list_ttl=%s", list_ttl),
    OPTION("cafile=%s", cafile),
    OPTION("insecure", insecure),
    OPTION("renew", renew),
    FUSE_OPT_KEY("token=", OPTIONS_KEY_TOKEN),
    FUSE_OPT_KEY("allow_other", OPTIONS_KEY_OTHERS_ALLOWED),
    FUSE_OPT_KEY("allow_root", OPTIONS_KEY_OTHERS_ALLOWED),
    /* Words of /etc/fstab that mount(8) may hand on and that mean nothing to a FUSE mount. */
    FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_END,
};

static int options_key(void *data, const char *arg, int key, struct fuse_args *args)
{
	struct options *options = data;

	switch (key) {
	case OPTIONS_KEY_TOKEN:
		log_error("a token is never accepted on the command line; "
			  "put it in a file only you can read and use -o token_file=PATH");
		return -1;
	case OPTIONS_KEY_OTHERS_ALLOWED:
		options->others_allowed = true;
		return 1;
	case FUSE_OPT_KEY_NONOPT:
		/* Held back until a second one shows that this one is not the mount point. */
		if (options->source == NULL) {
			options->source = strdup(arg);
			return options->source == NULL ? -1 : 0;
		}
		options->mountpoint_seen = true;
		return 1;
	default:
		return 1;
	}
}

static int options_seconds(const char *name, const char *text, long fallback, long min, long max,
			   long *seconds)
{
	char *end;
	long value;

	if (text == NULL) {
		*seconds = fallback;
		return 0;
	}
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < min) {
		log_error("%s=%s: not a whole number of seconds, at least %ld", name, text, min);
		return -1;
	}
	if (value > max) {
		log_error("%s=%s is too long: at most %ld seconds", name, text, max);
		return -1;
	}
	*seconds = value;
	return 0;
}

static int options_add_mount_options(struct fuse_args *args, const struct options *options)
{
	char *fsname = NULL;
	char *arg = NULL;
	int rc = -1;

	/* The origin shows as the source in /proc/mounts; a comma in it must not split it. */
	if (fuse_opt_add_opt_escaped(&fsname, options->origin) != 0)
		goto out;
	if (asprintf(&arg, "-osubtype=rerobotsfs,fsname=%s", fsname) < 0) {
		arg = NULL;
		goto out;
	}
	if (fuse_opt_add_arg(args, arg) != 0)
		goto out;
	/*
	 * Other users must get no more than the modes allow. libfuse's own check
	 * of allow_root sees only requests, and the kernel answers most reads of
	 * a warm mount from its caches without one: only the kernel's check of
	 * the modes keeps others out of those.
	 */
	if (options->others_allowed && fuse_opt_add_arg(args, "-odefault_permissions") != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		log_error("out of memory");
	free(arg);
	free(fsname);
	return rc;
}

static int options_resolve_cafile(struct options *options)
{
	char *absolute;

	if (options->cafile == NULL)
		return 0;
	/* Once daemonized the working directory is /, and curl reads the file at each connection.
	 */
	absolute = realpath(options->cafile, NULL);
	if (absolute == NULL) {
		log_error("cafile %s: %s", options->cafile, strerror(errno));
		return -1;
	}
	free(options->cafile);
	options->cafile = absolute;
	return 0;
}

/* Gives a lone argument back as the mount point; takes a URL before it as the origin. */
static int options_resolve_source(struct fuse_args *args, struct options *options)
{
	if (options->source == NULL)
		return 0;
	if (!options->mountpoint_seen) {
		if (fuse_opt_add_arg(args, options->source) != 0)
			return -1;
	} else if (options->origin == NULL && (strncmp(options->source, "http://", 7) == 0 ||
					       strncmp(options->source, "https://", 8) == 0)) {
		options->origin = options->source;
		options->source = NULL;
	}
	free(options->source);
	options->source = NULL;
	return 0;
}

int options_parse(struct fuse_args *args, struct options *options)
{
	const char *origin;

	memset(options, 0, sizeof(*options));
	if (fuse_opt_parse(args, options, options_table, options_key) != 0)
		return -1;
	if (options_resolve_source(args, options) != 0) {
		log_error("out of memory");
		return -1;
	}
	if (options->origin == NULL) {
		origin = getenv("REROBOTS_ORIGIN");
		if (origin == NULL || *origin == '\0')
			origin = OPTIONS_DEFAULT_ORIGIN;
		options->origin = strdup(origin);
		if (options->origin == NULL) {
			log_error("out of memory");
			return -1;
		}
	}
	if (options_seconds("timeout", options->timeout, OPTIONS_DEFAULT_TIMEOUT, 1,
			    OPTIONS_MAX_TIMEOUT, &options->timeout_seconds) != 0)
		return -1;
	if (options_seconds("list_ttl", options->list_ttl, OPTIONS_DEFAULT_LIST_TTL, 0,
			    OPTIONS_MAX_LIST_TTL, &options->list_ttl_seconds) != 0)
		return -1;
	if (options_resolve_cafile(options) != 0)
		return -1;
	return options_add_mount_options(args, options);
}

void options_help(const char *program)
{
	printf(
	    "usage: %s [options] [ORIGIN] MOUNTPOINT\n"
	    "\n"
	    "rerobotsfs options:\n"
	    "    -o origin=URL          the API's base URL (default: $REROBOTS_ORIGIN,\n"
	    "                           else " OPTIONS_DEFAULT_ORIGIN ")\n"
	    "    -o token_file=PATH     file holding the API token, mode 0600 (default:\n"
	    "                           $REROBOTS_API_TOKEN, else ~/.rerobots/jwt.txt)\n"
	    "    -o timeout=SECONDS     limit for one API request (default: %d)\n"
	    "    -o list_ttl=SECONDS    how long a listing is trusted (default: %d, at most %d)\n"
	    "    -o cafile=PATH         extra CA bundle for a private TLS certificate\n"
	    "    -o insecure            skip TLS verification\n"
	    "    -o renew               make the next token before the mount's own expires,\n"
	    "                           write it to the token file and revoke the old one\n"
	    "\n",
	    program, OPTIONS_DEFAULT_TIMEOUT, OPTIONS_DEFAULT_LIST_TTL, OPTIONS_MAX_LIST_TTL);
}

void options_free(struct options *options)
{
	free(options->source);
	free(options->origin);
	free(options->token_file);
	free(options->timeout);
	free(options->list_ttl);
	free(options->cafile);
}
