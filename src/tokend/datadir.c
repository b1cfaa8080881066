/* Checks of the data directory and its files; see datadir.h. */
#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
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
