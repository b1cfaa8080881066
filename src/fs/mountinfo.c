/*
 * Reading /proc/self/mountinfo; see mountinfo.h. A line there is
 *
 *     36 35 98:0 /root /mnt/point rw,noatime master:1 - fuse.rerobotsfs SOURCE rw,...
 *
 * with the mount point as the fifth field, a space, tab, newline or
 * backslash in it written as an octal escape (\040), and the file system
 * type as the first field after the lone "-".
 */
#include "mountinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOUNTINFO_PATH	 "/proc/self/mountinfo"
#define MOUNTINFO_FSTYPE "fuse.rerobotsfs"

/* Undoes the kernel's octal escapes in place. */
static void mountinfo_unescape(char *field)
{
	char *out = field;

	for (const char *in = field; *in != '\0'; in++) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
		    in[3] >= '0' && in[3] <= '7') {
			*out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
			in += 3;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
}

/* True when the line describes a rerobotsfs mount at mountpoint; the line is cut up. */
static bool mountinfo_line_matches(char *line, const char *mountpoint)
{
	char *saved = NULL;
	char *field = strtok_r(line, " \n", &saved);
	char *point = NULL;

	for (int index = 0; field != NULL; index++) {
		if (index == 4)
			point = field;
		if (index > 4 && strcmp(field, "-") == 0) {
			field = strtok_r(NULL, " \n", &saved);
			break;
		}
		field = strtok_r(NULL, " \n", &saved);
	}
	if (point == NULL || field == NULL || strcmp(field, MOUNTINFO_FSTYPE) != 0)
		return false;
	mountinfo_unescape(point);
	return strcmp(point, mountpoint) == 0;
}

bool mountinfo_has_rerobotsfs(const char *mountpoint)
{
	FILE *mountinfo = fopen(MOUNTINFO_PATH, "re");
	char *line = NULL;
	size_t size = 0;
	bool found = false;

	if (mountinfo == NULL)
		return false;
	while (!found && getline(&line, &size, mountinfo) >= 0)
		found = mountinfo_line_matches(line, mountpoint);
	free(line);
	fclose(mountinfo);
	return found;
}
