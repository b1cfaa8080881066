/*
 * Loading the mount's token; see credential.h. A token file that the group
 * or others may open is refused, as ssh refuses such a private key: the
 * token is as good as a password for the rerobots account.
 */
#include "credential.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"

/* Far more than any JWT; anything bigger is not a token file. */
#define CREDENTIAL_MAX_SIZE 65536

#define CREDENTIAL_ENVIRONMENT "REROBOTS_API_TOKEN"

static char *credential_trim(const char *text, size_t length)
{
	while (length > 0 && isspace((unsigned char)text[0])) {
		text++;
		length--;
	}
	while (length > 0 && isspace((unsigned char)text[length - 1]))
		length--;
	if (length == 0)
		return NULL;
	return secret_dup(text, length);
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
		log_error("token file %s is %s by others (mode %04o); run chmod 600 %s", path,
			  st.st_mode & 044 ? "readable" : "writable",
			  (unsigned int)(st.st_mode & 07777), path);
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
	char *token = NULL;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
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
	token = credential_trim(buffer, length);
	if (token == NULL)
		log_error("token file %s holds no token", path);
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

char *credential_load(const char *token_file)
{
	char *value = getenv(CREDENTIAL_ENVIRONMENT);
	char *from_environment = NULL;
	char *default_path = NULL;
	char *token = NULL;

	if (value != NULL) {
		if (token_file == NULL)
			from_environment = credential_trim(value, strlen(value));
		/* The initial environment stays readable in /proc/PID/environ after unsetenv. */
		explicit_bzero(value, strlen(value));
		unsetenv(CREDENTIAL_ENVIRONMENT);
	}
	if (token_file != NULL)
		return credential_read_file(token_file);
	if (from_environment != NULL)
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
		token = credential_read_file(default_path);
	free(default_path);
	return token;
}
