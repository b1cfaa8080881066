/*
 * The timed system calls of bench/fs-bench, which compiles this file; the
 * shell cannot make them without a process per call.
 *
 *     fs-bench-probe stat DIR COUNT    COUNT stat() calls over DIR/ID/jwt.txt,
 *                                      the ids of DIR in turn: total ns
 *     fs-bench-probe statx FILE COUNT  COUNT statx(AT_STATX_FORCE_SYNC) of FILE,
 *                                      each a round trip to a FUSE daemon: mean ns
 *
 * A failed call is an error (exit 1): a number that hides failures means
 * nothing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PROBE_PATH_MAX 4096

static long long probe_now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/* The paths DIR/NAME/jwt.txt of every entry of DIR that is not hidden. */
static char **probe_paths(const char *dir, size_t *count)
{
	DIR *stream = opendir(dir);
	struct dirent *entry;
	char **paths = NULL;
	size_t capacity = 0;

	*count = 0;
	if (stream == NULL)
		return NULL;
	while ((entry = readdir(stream)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		if (*count == capacity) {
			char **grown;

			capacity = capacity ? capacity * 2 : 1024;
			grown = realloc(paths, capacity * sizeof(*paths));
			if (grown == NULL)
				break;
			paths = grown;
		}
		if (asprintf(&paths[*count], "%s/%s/jwt.txt", dir, entry->d_name) < 0)
			break;
		(*count)++;
	}
	closedir(stream);
	return paths;
}

static int probe_stat(const char *dir, long count)
{
	struct stat st;
	size_t path_count;
	char **paths = probe_paths(dir, &path_count);
	long long start;

	if (paths == NULL || path_count == 0) {
		fprintf(stderr, "fs-bench-probe: no entries in %s\n", dir);
		return 1;
	}
	start = probe_now_ns();
	for (long i = 0; i < count; i++) {
		if (stat(paths[(size_t)i % path_count], &st) != 0) {
			perror(paths[(size_t)i % path_count]);
			return 1;
		}
	}
	printf("%lld\n", probe_now_ns() - start);
	return 0;
}

static int probe_statx(const char *file, long count)
{
	struct statx stx;
	long long start;

	start = probe_now_ns();
	for (long i = 0; i < count; i++) {
		if (statx(AT_FDCWD, file, AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &stx) != 0) {
			perror(file);
			return 1;
		}
	}
	printf("%lld\n", (probe_now_ns() - start) / count);
	return 0;
}

int main(int argc, char *argv[])
{
	long count;

	if (argc != 4 || (count = strtol(argv[3], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: fs-bench-probe stat DIR COUNT | statx FILE COUNT\n");
		return 2;
	}
	if (strcmp(argv[1], "stat") == 0)
		return probe_stat(argv[2], count);
	if (strcmp(argv[1], "statx") == 0)
		return probe_statx(argv[2], count);
	fprintf(stderr, "fs-bench-probe: unknown command %s\n", argv[1]);
	return 2;
}
