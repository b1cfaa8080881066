/*
 * The SQLite backend's database file: made where missing and checked as
 * the data directory's files are, opened, set up for durability, and given
 * the schema (a database made by an older service is brought up to it).
 *
 * Durability: WAL with synchronous=FULL, so a token is on disk (the WAL is
 * fsynced at each commit) before its 201 is sent. NORMAL would survive a
 * kill -9 as well, but could lose acknowledged tokens on a power cut, and a
 * client that was told "created" must find its token afterwards.
 */
#ifndef RR_TOKEND_STORE_SQLITE_FILE_H
#define RR_TOKEND_STORE_SQLITE_FILE_H

#include <sqlite3.h>

/* How long a connection waits for another's lock on the file. */
#define STORE_SQLITE_BUSY_TIMEOUT_MS 10000

/*
 * Opens path, the file name in the directory dir, into *db (closed by the
 * caller, even on failure): made mode 0600 where missing, never through a
 * symbolic link, in WAL mode with synchronous=FULL and the schema up to
 * date. 0, or a negative errno after logging why.
 */
int store_sqlite_file_open(const char *dir, const char *name, const char *path, sqlite3 **db);

/* Logs that what failed on db, with SQLite's message; -EIO. */
int store_sqlite_fail(sqlite3 *db, const char *what);

#endif
