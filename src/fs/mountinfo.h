/*
 * Whether a mount point already has a rerobotsfs mount on it. Mounting
 * there again would stack a second driver over the first, which would go
 * on running with nobody able to reach it.
 */
#ifndef RR_FS_MOUNTINFO_H
#define RR_FS_MOUNTINFO_H

#include <stdbool.h>

/*
 * True when /proc/self/mountinfo lists a mount of type fuse.rerobotsfs at
 * mountpoint (an absolute path without symlinks, as libfuse makes it).
 * False when it lists none, or cannot be read: the kernel still refuses
 * what it must.
 */
bool mountinfo_has_rerobotsfs(const char *mountpoint);

#endif
