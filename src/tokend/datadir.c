/* Checks of the data directory and its files; see datadir.h. */
#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* The database, the journal files SQLite keeps beside it in WAL mode, and the key. */
static const char *const datadir_files[] = {
    DATADIR_DATABASE,
    DATADIR_DATABASE "-wal",
    DATADIR_DATABASE "-shm",
    DATADIR_SIGNING_KEY,
};

static int datadir_check_directory(int fd, const char *dir)
{
	struct stat status;

	if (fstat(fd, &status) != 0) {
		log_error("%s: %s", dir, strerror(errno));
		return -EIO;
	}
	if (status.st_uid != geteuid() && status.st_uid != 0) {
		log_error("%s: owned by uid %u, not by this user or root; chown %u %s", dir,
			  (unsigned int)status.st_uid, (unsigned int)geteuid(), dir);
		return -EACCES;
	}
	if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_error("%s: writable by others; chmod go-w %s", dir, dir);
		return -EACCES;
	}
	return 0;
}

/* The path fd is open on, symbolic links resolved, into real (PATH_MAX bytes). */
static int datadir_real_path(int fd, const char *dir, char *real)
{
	char link[64];
	ssize_t length;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	length = readlink(link, real, PATH_MAX - 1);
	if (length < 0) {
		log_error("%s: cannot find its path: %s", dir, strerror(errno));
		return -EIO;
	}
	real[length] = '\0';
	return 0;
}

/*
 * Whoever may write a directory above dir may rename dir away and put
 * another in its place, under SQLite's feet (it opens by name): so, as ssh
 * does for its files, the directory real (a resolved path) and each above
 * it must be root's or ours, and writable by others only where the sticky
 * bit keeps them from renaming our entries.
 */
static int datadir_check_path_up(char *real, const char *dir)
{
	struct stat status;
	char *slash;

	for (;;) {
		if (stat(real, &status) != 0) {
			log_error("%s: %s", real, strerror(errno));
			return -EIO;
		}
		if (status.st_uid != geteuid() && status.st_uid != 0) {
			log_error(
			    "%s: owned by uid %u, who could replace %s; use a directory whose "
			    "parents are root's or yours",
			    real, (unsigned int)status.st_uid, dir);
			return -EACCES;
		}
		if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    (status.st_mode & S_ISVTX) == 0) {
			log_error("%s: writable by others, who could replace %s; chmod go-w %s",
				  real, dir, real);
			return -EACCES;
		}
		slash = strrchr(real, '/');
		if (slash == NULL || strcmp(real, "/") == 0)
			return 0;
		slash[slash == real ? 1 : 0] = '\0';
	}
}

/* Checks the directories above dir, which fd is open on. */
static int datadir_check_ancestors(int fd, const char *dir)
{
	char real[PATH_MAX];
	int err = datadir_real_path(fd, dir, real);

	if (err < 0)
		return err;
	if (strcmp(real, "/") == 0)
		return 0;
	*strrchr(real, '/') = '\0';
	if (real[0] == '\0')
		strcpy(real, "/");
	return datadir_check_path_up(real, dir);
}

/* Checks the directory dir is to be made in, and those above, before making it. */
static int datadir_check_parent(const char *dir)
{
	char real[PATH_MAX];
	char *copy = strdup(dir);
	int fd, err;

	if (copy == NULL)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		log_error("%s: %s", dir, strerror(errno));
		free(copy);
		return err;
	}
	err = datadir_real_path(fd, dir, real);
	if (err == 0)
		err = datadir_check_path_up(real, dir);
	close(fd);
	free(copy);
	return err;
}

int datadir_open(const char *dir, int *result)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err;

	if (fd < 0) {
		err = errno;
		log_error("%s: %s", dir, strerror(err));
		return -err;
	}
	err = datadir_check_directory(fd, dir);
	if (err == 0)
		err = datadir_check_ancestors(fd, dir);
	if (err < 0) {
		close(fd);
		return err;
	}
	*result = fd;
	return 0;
}

int datadir_check_file(int dir_fd, const char *dir, const char *name)
{
	struct stat status;
	int fd, err = 0;

	/* O_NONBLOCK: a FIFO planted there must not hang the check. */
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno == ELOOP) {
		log_error("%s/%s: a symbolic link, which the service never follows; remove it", dir,
			  name);
		return -EACCES;
	}
	if (fd < 0) {
		err = errno;
		log_error("%s/%s: %s", dir, name, strerror(err));
		return -err;
	}
	if (fstat(fd, &status) != 0) {
		log_error("%s/%s: %s", dir, name, strerror(errno));
		err = -EIO;
	} else if (!S_ISREG(status.st_mode)) {
		log_error("%s/%s: not a regular file; remove it", dir, name);
		err = -EACCES;
	} else if (status.st_uid != geteuid()) {
		log_error("%s/%s: owned by uid %u, not by this user; chown %u %s/%s", dir, name,
			  (unsigned int)status.st_uid, (unsigned int)geteuid(), dir, name);
		err = -EACCES;
	} else if ((status.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		log_error(
		    "%s/%s: others may read or write it, and it holds secrets; chmod 600 %s/%s",
		    dir, name, dir, name);
		err = -EACCES;
	}
	close(fd);
	return err;
}

int datadir_prepare(const char *dir)
{
	int fd, err;

	err = datadir_check_parent(dir);
	if (err < 0)
		return err;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		err = errno;
		log_error("%s: %s", dir, strerror(err));
		return -err;
	}
	err = datadir_open(dir, &fd);
	if (err < 0)
		return err;
	for (size_t i = 0; i < sizeof(datadir_files) / sizeof(datadir_files[0]) && err == 0; i++)
		err = datadir_check_file(fd, dir, datadir_files[i]);
	close(fd);
	return err;
}
