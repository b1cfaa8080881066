/*
 * Loading the mount's token; see credential.h. A token file that the group
 * or others may open is refused, as ssh refuses such a private key: the
 * token is as good as a password for the rerobots account. What is read
 * must be a JWT, since it goes into every request's Authorization header.
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

char *credential_load(const char *token_file)
{
	char *value = getenv(CREDENTIAL_ENVIRONMENT);
	bool in_environment = value != NULL && *value != '\0';
	char *from_environment = NULL;
	char *default_path = NULL;
	char *token = NULL;

	if (value != NULL) {
		if (token_file == NULL && in_environment)
			from_environment =
			    credential_take(value, strlen(value), "$" CREDENTIAL_ENVIRONMENT);
		/* The initial environment stays readable in /proc/PID/environ after unsetenv. */
		explicit_bzero(value, strlen(value));
		unsetenv(CREDENTIAL_ENVIRONMENT);
	}
	if (token_file != NULL)
		return credential_read_file(token_file);
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
		token = credential_read_file(default_path);
	free(default_path);
	return token;
}
