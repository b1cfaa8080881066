/* The SQLite database file, its durability and its schema; see store_sqlite_file.h. */
#include "store_sqlite_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"
#include "log.h"

static const char store_sqlite_schema[] =
    "CREATE TABLE IF NOT EXISTS tokens ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " user TEXT NOT NULL,"
    " token TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL,"
    " revoked INTEGER);"
    "CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens (user, created);"
    /* A page of a listing is a range of ids, read without sorting the user's tokens. */
    "CREATE INDEX IF NOT EXISTS tokens_by_user_and_id ON tokens (user, id);"
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    " user TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " token_id TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " duration INTEGER,"
    " PRIMARY KEY (user, key));"
    "CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created);";

int store_sqlite_fail(sqlite3 *db, const char *what)
{
	log_error("database: %s: %s", what, sqlite3_errmsg(db));
	return -EIO;
}

/*
 * A database made before keys remembered their request's duration gets the
 * column; its keys (NULL there) answer a replay of any body, as they did.
 * Under BEGIN IMMEDIATE, since --add-user may open the same file at once.
 */
static int store_sqlite_upgrade(sqlite3 *db)
{
	sqlite3_stmt *probe = NULL;
	int err = 0;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlite_fail(db, "upgrade");
	if (sqlite3_prepare_v2(db, "SELECT duration FROM idempotency_keys", -1, &probe, NULL) !=
		SQLITE_OK &&
	    sqlite3_exec(db, "ALTER TABLE idempotency_keys ADD COLUMN duration INTEGER", NULL, NULL,
			 NULL) != SQLITE_OK)
		err = store_sqlite_fail(db, "upgrade");
	sqlite3_finalize(probe);
	if (sqlite3_exec(db, err == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK &&
	    err == 0)
		err = store_sqlite_fail(db, "upgrade");
	return err;
}

static int store_sqlite_configure(sqlite3 *db)
{
	sqlite3_stmt *statement = NULL;
	bool wal = false;

	if (sqlite3_busy_timeout(db, STORE_SQLITE_BUSY_TIMEOUT_MS) != SQLITE_OK)
		return store_sqlite_fail(db, "busy timeout");
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &statement, NULL) != SQLITE_OK)
		return store_sqlite_fail(db, "journal mode");
	if (sqlite3_step(statement) == SQLITE_ROW)
		wal = strcmp((const char *)sqlite3_column_text(statement, 0), "wal") == 0;
	sqlite3_finalize(statement);
	if (!wal) {
		log_error("database: cannot switch to WAL mode");
		return -EIO;
	}
	if (sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlite_fail(db, "synchronous");
	if (sqlite3_exec(db, store_sqlite_schema, NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlite_fail(db, "schema");
	return store_sqlite_upgrade(db);
}

/*
 * Makes the database file where missing, mode 0600, never through a
 * symbolic link, and checks what is there, so that SQLite (which opens by
 * name) finds a file of ours; the checked directory keeps it so.
 */
static int store_sqlite_create_file(const char *dir, const char *name)
{
	int dir_fd, fd, err;

	err = datadir_open(dir, &dir_fd);
	if (err < 0)
		return err;
	fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST) {
		log_error("%s/%s: %s", dir, name, strerror(errno));
		err = -EIO;
	} else {
		if (fd >= 0)
			close(fd);
		err = datadir_check_file(dir_fd, dir, name);
	}
	close(dir_fd);
	return err;
}

int store_sqlite_file_open(const char *dir, const char *name, const char *path, sqlite3 **db)
{
	int err;

	err = store_sqlite_create_file(dir, name);
	if (err < 0)
		return err;
	if (sqlite3_open_v2(path, db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return store_sqlite_fail(*db, path);
	return store_sqlite_configure(*db);
}
