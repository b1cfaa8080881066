/*
 * Directory listings: READDIR and READDIRPLUS of the root, which pages
 * through the client's listing, and of a token's directory.
 */
#ifndef RR_FS_DIR_H
#define RR_FS_DIR_H

#include <stdbool.h>

#include "fs.h"

/* Replies to a READDIR (plus false) or READDIRPLUS of ino from offset, at most size bytes. */
void dir_reply(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, bool plus);

#endif
