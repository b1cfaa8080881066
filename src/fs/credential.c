/*
 * Loading the mount's token; see credential.h. A token file that the group
 * or others may open is refused, as ssh refuses such a private key: the
 * token is as good as a password for the rerobots account. What is read
 * must be a JWT, since it goes into every request's Authorization header.
 *
 * A renewed token replaces the file the way editors save one: a new file
 * next to it, made with O_EXCL and O_NOFOLLOW so that nothing planted under
 * its name is written through, synced, then renamed over the old one.
 */
#include "credential.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"
#include "token_id.h"

/* Far more than any JWT; anything bigger is not a token file. */
#define CREDENTIAL_MAX_SIZE 65536

#define CREDENTIAL_ENVIRONMENT "REROBOTS_API_TOKEN"

/* The token that text holds, white space around it trimmed; source names it for a person. */
static char *credential_take(const char *text, size_t length, const char *source)
{
	while (length > 0 && isspace((unsigned char)text[0])) {
		text++;
		length--;
	}
	while (length > 0 && isspace((unsigned char)text[length - 1]))
		length--;
	if (length == 0) {
		log_error("%s holds no token", source);
		return NULL;
	}
	if (!token_text_is_jwt(text, length)) {
		log_error("%s does not hold a token: a JWT is base64url text in three parts "
			  "joined by dots, on one line",
			  source);
		return NULL;
	}
	return secret_dup(text, length);
}

static const char *credential_mode_word(mode_t mode)
{
	if (mode & 044)
		return "readable";
	if (mode & 022)
		return "writable";
	return "executable";
}

static int credential_check_mode(const char *path, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		log_error("token file %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("token file %s is not a regular file", path);
		return -1;
	}
	if (st.st_mode & 077) {
		log_error(
		    "token file %s is %s by its group or others (mode %04o); run chmod 600 %s",
		    path, credential_mode_word(st.st_mode), (unsigned int)(st.st_mode & 07777),
		    path);
		return -1;
	}
	if (st.st_size > CREDENTIAL_MAX_SIZE) {
		log_error("token file %s is too large to hold a token", path);
		return -1;
	}
	return 0;
}

static char *credential_read_file(const char *path)
{
	char buffer[CREDENTIAL_MAX_SIZE];
	size_t length = 0;
	ssize_t got;
	char source[PATH_MAX + sizeof("token file ")];
	char *token = NULL;
	int fd;

	/* Not blocking: a FIFO or a device is refused after fstat, not waited on. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		log_error("token file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (credential_check_mode(path, fd) != 0)
		goto out;
	while (length < sizeof(buffer)) {
		got = read(fd, buffer + length, sizeof(buffer) - length);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			log_error("token file %s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		length += (size_t)got;
	}
	snprintf(source, sizeof(source), "token file %s", path);
	token = credential_take(buffer, length, source);
out:
	explicit_bzero(buffer, length);
	close(fd);
	return token;
}

static char *credential_default_path(void)
{
	const char *home = getenv("HOME");
	struct passwd *user;
	char *path;

	if (home == NULL || *home == '\0') {
		user = getpwuid(getuid());
		home = user == NULL ? "/" : user->pw_dir;
	}
	if (asprintf(&path, "%s/.rerobots/jwt.txt", home) < 0)
		return NULL;
	return path;
}

/* path as an absolute path, to be freed; NULL when out of memory. */
static char *credential_absolute(const char *path)
{
	char *directory;
	char *absolute;

	if (path[0] == '/')
		return strdup(path);
	directory = getcwd(NULL, 0);
	if (directory == NULL)
		return NULL;
	if (asprintf(&absolute, "%s/%s", directory, path) < 0)
		absolute = NULL;
	free(directory);
	return absolute;
}

/* credential_read_file(), and on success the file's absolute path in *path. */
static char *credential_read_at(const char *file, char **path)
{
	char *token = credential_read_file(file);

	if (token == NULL)
		return NULL;
	*path = credential_absolute(file);
	if (*path == NULL) {
		log_error("token file %s: %s", file, strerror(errno));
		secret_free(token);
		return NULL;
	}
	return token;
}

char *credential_load(const char *token_file, char **path)
{
	char *value = getenv(CREDENTIAL_ENVIRONMENT);
	bool in_environment = value != NULL && *value != '\0';
	char *from_environment = NULL;
	char *default_path = NULL;
	char *token = NULL;

	*path = NULL;
	if (value != NULL) {
		if (token_file == NULL && in_environment)
			from_environment =
			    credential_take(value, strlen(value), "$" CREDENTIAL_ENVIRONMENT);
		/* The initial environment stays readable in /proc/PID/environ after unsetenv. */
		explicit_bzero(value, strlen(value));
		unsetenv(CREDENTIAL_ENVIRONMENT);
	}
	if (token_file != NULL)
		return credential_read_at(token_file, path);
	if (in_environment)
		return from_environment;

	default_path = credential_default_path();
	if (default_path == NULL) {
		log_error("out of memory");
		return NULL;
	}
	if (access(default_path, F_OK) != 0 && errno == ENOENT)
		log_error("no token: %s does not exist; use -o token_file=PATH or set %s",
			  default_path, CREDENTIAL_ENVIRONMENT);
	else
		token = credential_read_at(default_path, path);
	free(default_path);
	return token;
}

char *credential_read(const char *path)
{
	return credential_read_file(path);
}

/* Writes all of data to fd; false with errno set when it cannot. */
static bool credential_write_all(int fd, const char *data, size_t length)
{
	ssize_t written;

	while (length > 0) {
		written = write(fd, data, length);
		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0)
			return false;
		data += written;
		length -= (size_t)written;
	}
	return true;
}

/* A name for the new file, hidden and unlikely to be taken: ".jwt.txt.1f0c93a2d4e5b6c7". */
static int credential_temporary_name(const char *base, char *name, size_t size)
{
	unsigned char random[8];
	int length;

	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
		return -1;
	length =
	    snprintf(name, size, ".%s.%02x%02x%02x%02x%02x%02x%02x%02x", base, random[0], random[1],
		     random[2], random[3], random[4], random[5], random[6], random[7]);
	if (length < 0 || (size_t)length >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Gives the new file fd the owner of the old one: a no-op unless the driver runs as root. */
static int credential_give_owner(int fd, const struct stat *old)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -1;
	if (st.st_uid == old->st_uid && st.st_gid == old->st_gid)
		return 0;
	return fchown(fd, old->st_uid, old->st_gid);
}

/*
 * Writes the new file in directory dirfd and renames it over base; the
 * owner is the old file's, or ours when there is none.
 */
static int credential_replace_in(int dirfd, const char *base, const char *token, size_t length)
{
	char name[NAME_MAX + 1];
	struct stat old;
	char *line;
	int fd;
	int saved;
	bool written;

	if (fstatat(dirfd, base, &old, 0) != 0) {
		if (errno != ENOENT)
			return -1;
		old.st_uid = getuid();
		old.st_gid = getgid();
	}
	if (credential_temporary_name(base, name, sizeof(name)) != 0)
		return -1;
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	line = secret_dup(token, length + 1);
	written = line != NULL;
	if (written) {
		line[length] = '\n';
		written = credential_write_all(fd, line, length + 1);
		secret_free(line);
	}
	/* The mode again, since the umask may have taken bits from the one given to openat. */
	written = written && fchmod(fd, 0600) == 0 && credential_give_owner(fd, &old) == 0 &&
		  fsync(fd) == 0;
	saved = errno;
	if (close(fd) != 0 && written) {
		written = false;
		saved = errno;
	}
	if (!written) {
		unlinkat(dirfd, name, 0);
		errno = saved;
		return -1;
	}
	if (renameat(dirfd, name, dirfd, base) != 0) {
		saved = errno;
		unlinkat(dirfd, name, 0);
		errno = saved;
		return -1;
	}
	/* The rename itself lasts once the directory is on disk. */
	return fsync(dirfd);
}

int credential_store(const char *path, const char *token, size_t length)
{
	char *target = realpath(path, NULL);
	char *copy = strdup(target != NULL ? target : path);
	char *slash;
	int dirfd = -1;
	int rc = -1;

	if (copy == NULL)
		goto out;
	slash = strrchr(copy, '/');
	if (slash == NULL || slash[1] == '\0') {
		errno = EINVAL;
		goto out;
	}
	*slash = '\0';
	dirfd = open(slash == copy ? "/" : copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		goto out;
	rc = credential_replace_in(dirfd, slash + 1, token, length);
out:
	if (rc != 0)
		log_error("cannot write the new token to %s: %s", path, strerror(errno));
	if (dirfd >= 0)
		close(dirfd);
	free(copy);
	free(target);
	return rc;
}
