/*
 * SQLite storage of tokens and idempotency keys, the default backend of
 * store.h: one file under the data directory, which store_sqlite_file.c
 * makes, opens durably and gives its schema; this file is the operations
 * of store.h on it.
 *
 * All request threads share one connection behind a mutex: writes are
 * serialized by SQLite anyway, and the hot read paths (authentication, 304)
 * are answered from memory without coming here.
 */
#include "store_backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "secret.h"
#include "store_sqlite_file.h"
#include "ticker.h"

#define STORE_PRUNE_INTERVAL 3600

enum store_statement {
	STORE_BEGIN,
	STORE_COMMIT,
	STORE_ROLLBACK,
	STORE_PRUNE_KEYS,
	STORE_PRUNE_TOKENS,
	STORE_FIND_KEY,
	STORE_INSERT_KEY,
	STORE_INSERT_TOKEN,
	STORE_LIST,
	STORE_LIST_WITH_TEXT,
	STORE_PAGE,
	STORE_PAGE_WITH_TEXT,
	STORE_GET,
	STORE_OWNER,
	STORE_REVOKE,
	STORE_PURGE,
	STORE_STATEMENT_COUNT
};

static const char *const store_statement_sql[STORE_STATEMENT_COUNT] = {
    [STORE_BEGIN] = "BEGIN IMMEDIATE",
    [STORE_COMMIT] = "COMMIT",
    [STORE_ROLLBACK] = "ROLLBACK",
    [STORE_PRUNE_KEYS] = "DELETE FROM idempotency_keys WHERE created < ?1",
    [STORE_PRUNE_TOKENS] = "DELETE FROM tokens WHERE (revoked < ?1 OR expires < ?1)"
			   " AND id NOT IN (SELECT token_id FROM idempotency_keys)",
    [STORE_FIND_KEY] = "SELECT t.id, t.token, t.created, t.expires, k.duration, t.revoked"
		       " FROM idempotency_keys k JOIN tokens t ON t.id = k.token_id"
		       " WHERE k.user = ?1 AND k.key = ?2",
    [STORE_INSERT_KEY] = "INSERT OR REPLACE INTO idempotency_keys"
			 " (user, key, token_id, created, duration) VALUES (?1, ?2, ?3, ?4, ?5)",
    [STORE_INSERT_TOKEN] = "INSERT INTO tokens (id, user, token, created, expires)"
			   " VALUES (?1, ?2, ?3, ?4, ?5)",
    /* Without the text, most of a row, for a listing that does not show it. */
    [STORE_LIST] = "SELECT id, NULL, created, expires FROM tokens"
		   " WHERE user = ?1 AND revoked IS NULL AND expires > ?2"
		   " ORDER BY created, id",
    [STORE_LIST_WITH_TEXT] = "SELECT id, token, created, expires FROM tokens"
			     " WHERE user = ?1 AND revoked IS NULL AND expires > ?2"
			     " ORDER BY created, id",
    [STORE_PAGE] = "SELECT id, NULL, created, expires FROM tokens"
		   " WHERE user = ?1 AND revoked IS NULL AND expires > ?2 AND id > ?3"
		   " ORDER BY id LIMIT ?4",
    [STORE_PAGE_WITH_TEXT] = "SELECT id, token, created, expires FROM tokens"
			     " WHERE user = ?1 AND revoked IS NULL AND expires > ?2 AND id > ?3"
			     " ORDER BY id LIMIT ?4",
    [STORE_GET] = "SELECT id, token, created, expires FROM tokens"
		  " WHERE id = ?1 AND user = ?2 AND revoked IS NULL AND expires > ?3",
    [STORE_OWNER] = "SELECT user, expires, revoked IS NOT NULL FROM tokens WHERE id = ?1",
    [STORE_REVOKE] = "UPDATE tokens SET revoked = ?3"
		     " WHERE id = ?1 AND user = ?2 AND revoked IS NULL",
    [STORE_PURGE] = "UPDATE tokens SET revoked = ?2 WHERE user = ?1 AND revoked IS NULL",
};

struct store_sqlite {
	struct store base;
	sqlite3 *db;
	char *path;
	pthread_mutex_t lock;
	sqlite3_stmt *statements[STORE_STATEMENT_COUNT];
	_Atomic uint64_t generation;

	/* The watcher: its own read-only connection, and when it prunes next. */
	struct ticker watcher;
	sqlite3 *watch_db;
	sqlite3_stmt *watch_statement;
	int64_t last_data_version;
	int64_t next_prune;
};

/* The statement, reset and unbound for a new use; the caller holds store->lock. */
static sqlite3_stmt *store_statement(struct store_sqlite *store, enum store_statement which)
{
	sqlite3_stmt *statement = store->statements[which];

	sqlite3_reset(statement);
	sqlite3_clear_bindings(statement);
	return statement;
}

/* Runs a statement that returns no rows. */
static int store_run(struct store_sqlite *store, enum store_statement which,
		     sqlite3_stmt *statement)
{
	int rc = sqlite3_step(statement);

	sqlite3_reset(statement);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(store->db, store_statement_sql[which]);
	return 0;
}

static int store_execute(struct store_sqlite *store, enum store_statement which)
{
	return store_run(store, which, store_statement(store, which));
}

static void store_bind_text(sqlite3_stmt *statement, int index, const char *text)
{
	sqlite3_bind_text(statement, index, text, -1, SQLITE_STATIC);
}

/* Reads columns id, token, created, expires; the text stays SQLite's. */
static void store_read_token(sqlite3_stmt *statement, struct store_token *token)
{
	snprintf(token->id, sizeof(token->id), "%s",
		 (const char *)sqlite3_column_text(statement, 0));
	token->text = (const char *)sqlite3_column_text(statement, 1);
	token->created = sqlite3_column_int64(statement, 2);
	token->expires = sqlite3_column_int64(statement, 3);
}

static int store_copy_text(struct store_token *token)
{
	token->text = secret_dup(token->text, strlen(token->text));
	return token->text == NULL ? -ENOMEM : 0;
}

/*
 * Looks for an earlier token of user under key, made since key_since; 1
 * when found (copied into token, *replay says whether it may be answered).
 */
static int store_find_key(struct store_sqlite *store, const char *user, const char *key,
			  int64_t key_since, int64_t now, struct store_token *token,
			  enum store_replay *replay)
{
	sqlite3_stmt *statement = store_statement(store, STORE_PRUNE_KEYS);
	int64_t duration = token->expires - token->created;
	int rc, err;

	sqlite3_bind_int64(statement, 1, key_since);
	err = store_run(store, STORE_PRUNE_KEYS, statement);
	if (err < 0)
		return err;

	statement = store_statement(store, STORE_FIND_KEY);
	store_bind_text(statement, 1, user);
	store_bind_text(statement, 2, key);
	rc = sqlite3_step(statement);
	if (rc == SQLITE_DONE) {
		err = 0;
	} else if (rc != SQLITE_ROW) {
		err = store_sqlite_fail(store->db, "find idempotency key");
	} else {
		store_read_token(statement, token);
		if (sqlite3_column_type(statement, 4) != SQLITE_NULL &&
		    sqlite3_column_int64(statement, 4) != duration)
			*replay = STORE_REPLAY_OTHER_REQUEST;
		else if (sqlite3_column_type(statement, 5) != SQLITE_NULL || token->expires <= now)
			*replay = STORE_REPLAY_INACTIVE;
		else
			*replay = STORE_REPLAY;
		err = store_copy_text(token);
		if (err == 0)
			err = 1;
	}
	sqlite3_reset(statement);
	return err;
}

static int store_add(struct store_sqlite *store, const char *user, const struct store_token *token,
		     const char *key)
{
	sqlite3_stmt *statement = store_statement(store, STORE_INSERT_TOKEN);
	int err;

	store_bind_text(statement, 1, token->id);
	store_bind_text(statement, 2, user);
	store_bind_text(statement, 3, token->text);
	sqlite3_bind_int64(statement, 4, token->created);
	sqlite3_bind_int64(statement, 5, token->expires);
	err = store_run(store, STORE_INSERT_TOKEN, statement);
	if (err < 0 || key == NULL)
		return err;

	statement = store_statement(store, STORE_INSERT_KEY);
	store_bind_text(statement, 1, user);
	store_bind_text(statement, 2, key);
	store_bind_text(statement, 3, token->id);
	sqlite3_bind_int64(statement, 4, token->created);
	sqlite3_bind_int64(statement, 5, token->expires - token->created);
	return store_run(store, STORE_INSERT_KEY, statement);
}

static int store_sqlite_token_insert(struct store *base, const char *user,
				     struct store_token *token, const char *idempotency_key,
				     int64_t key_since, enum store_replay *replay)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	struct store_token earlier = *token;
	int err;

	*replay = STORE_NEW;
	pthread_mutex_lock(&store->lock);
	err = store_execute(store, STORE_BEGIN);
	if (err < 0)
		goto out;
	if (idempotency_key != NULL) {
		err = store_find_key(store, user, idempotency_key, key_since, token->created,
				     &earlier, replay);
		if (err < 0)
			goto out_rollback;
		if (err == 1) {
			err = store_execute(store, STORE_COMMIT);
			if (err < 0) {
				secret_free((char *)earlier.text);
				*replay = STORE_NEW;
				goto out_rollback;
			}
			*token = earlier;
			goto out;
		}
	}
	err = store_add(store, user, token, idempotency_key);
	if (err < 0)
		goto out_rollback;
	err = store_execute(store, STORE_COMMIT);
	if (err < 0)
		goto out_rollback;
	store->generation++;
	goto out;

out_rollback:
	store_execute(store, STORE_ROLLBACK);
out:
	pthread_mutex_unlock(&store->lock);
	return err;
}

/* Walks the rows of a listing statement whose parameters are bound; store->lock held. */
static int store_visit_tokens(struct store_sqlite *store, sqlite3_stmt *statement,
			      store_token_visitor visit, void *context)
{
	struct store_token token;
	int rc, err = 0;

	while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
		store_read_token(statement, &token);
		err = visit(&token, context);
		if (err != 0)
			break;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = store_sqlite_fail(store->db, "list tokens");
	sqlite3_reset(statement);
	return err;
}

static int store_sqlite_token_list(struct store *base, const char *user, int64_t now,
				   bool with_text, store_token_visitor visit, void *context)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	sqlite3_stmt *statement;
	int err;

	pthread_mutex_lock(&store->lock);
	statement = store_statement(store, with_text ? STORE_LIST_WITH_TEXT : STORE_LIST);
	store_bind_text(statement, 1, user);
	sqlite3_bind_int64(statement, 2, now);
	err = store_visit_tokens(store, statement, visit, context);
	pthread_mutex_unlock(&store->lock);
	return err;
}

static int store_sqlite_token_page(struct store *base, const char *user, int64_t now,
				   bool with_text, const char *after, int64_t count,
				   store_token_visitor visit, void *context)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	sqlite3_stmt *statement;
	int err;

	pthread_mutex_lock(&store->lock);
	statement = store_statement(store, with_text ? STORE_PAGE_WITH_TEXT : STORE_PAGE);
	store_bind_text(statement, 1, user);
	sqlite3_bind_int64(statement, 2, now);
	/* Every id is above "": no cursor starts at the first token. */
	store_bind_text(statement, 3, after == NULL ? "" : after);
	sqlite3_bind_int64(statement, 4, count);
	err = store_visit_tokens(store, statement, visit, context);
	pthread_mutex_unlock(&store->lock);
	return err;
}

static int store_sqlite_token_get(struct store *base, const char *user, const char *id, int64_t now,
				  struct store_token *token)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	sqlite3_stmt *statement;
	int rc, err;

	pthread_mutex_lock(&store->lock);
	statement = store_statement(store, STORE_GET);
	store_bind_text(statement, 1, id);
	store_bind_text(statement, 2, user);
	sqlite3_bind_int64(statement, 3, now);
	rc = sqlite3_step(statement);
	if (rc == SQLITE_DONE) {
		err = -ENOENT;
	} else if (rc != SQLITE_ROW) {
		err = store_sqlite_fail(store->db, "get token");
	} else {
		store_read_token(statement, token);
		err = store_copy_text(token);
	}
	sqlite3_reset(statement);
	pthread_mutex_unlock(&store->lock);
	return err;
}

static int store_sqlite_token_owner(struct store *base, const char *id, char **user,
				    int64_t *expires, bool *revoked)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	sqlite3_stmt *statement;
	int rc, err = 0;

	pthread_mutex_lock(&store->lock);
	statement = store_statement(store, STORE_OWNER);
	store_bind_text(statement, 1, id);
	rc = sqlite3_step(statement);
	if (rc == SQLITE_DONE) {
		err = -ENOENT;
	} else if (rc != SQLITE_ROW) {
		err = store_sqlite_fail(store->db, "token owner");
	} else {
		*user = strdup((const char *)sqlite3_column_text(statement, 0));
		*expires = sqlite3_column_int64(statement, 1);
		*revoked = sqlite3_column_int(statement, 2) != 0;
		if (*user == NULL)
			err = -ENOMEM;
	}
	sqlite3_reset(statement);
	pthread_mutex_unlock(&store->lock);
	return err;
}

static int store_sqlite_token_revoke(struct store *base, const char *user, const char *id,
				     int64_t now)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	sqlite3_stmt *statement;
	int err;

	pthread_mutex_lock(&store->lock);
	statement = store_statement(store, STORE_REVOKE);
	store_bind_text(statement, 1, id);
	store_bind_text(statement, 2, user);
	sqlite3_bind_int64(statement, 3, now);
	err = store_run(store, STORE_REVOKE, statement);
	store->generation++;
	pthread_mutex_unlock(&store->lock);
	return err;
}

static int store_sqlite_token_purge(struct store *base, const char *user, int64_t now)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	sqlite3_stmt *statement;
	int err;

	pthread_mutex_lock(&store->lock);
	statement = store_statement(store, STORE_PURGE);
	store_bind_text(statement, 1, user);
	sqlite3_bind_int64(statement, 2, now);
	err = store_run(store, STORE_PURGE, statement);
	store->generation++;
	pthread_mutex_unlock(&store->lock);
	return err;
}

static int store_sqlite_prune(struct store *base, int64_t now)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	sqlite3_stmt *statement;
	int tokens = 0, err;

	pthread_mutex_lock(&store->lock);
	err = store_execute(store, STORE_BEGIN);
	if (err < 0)
		goto out;
	statement = store_statement(store, STORE_PRUNE_KEYS);
	sqlite3_bind_int64(statement, 1, now - STORE_KEEP_SECONDS);
	err = store_run(store, STORE_PRUNE_KEYS, statement);
	if (err == 0) {
		statement = store_statement(store, STORE_PRUNE_TOKENS);
		sqlite3_bind_int64(statement, 1, now - STORE_KEEP_SECONDS);
		err = store_run(store, STORE_PRUNE_TOKENS, statement);
		tokens = sqlite3_changes(store->db);
	}
	if (err == 0)
		err = store_execute(store, STORE_COMMIT);
	if (err < 0)
		store_execute(store, STORE_ROLLBACK);
	else if (tokens > 0)
		log_info("database: pruned %d revoked or expired tokens", tokens);
out:
	pthread_mutex_unlock(&store->lock);
	return err;
}

static int store_sqlite_generation(struct store *base, uint64_t *generation)
{
	struct store_sqlite *store = (struct store_sqlite *)base;

	*generation = store->generation;
	return 0;
}

/*
 * Another process (--add-user) writes the same database while the service
 * runs. PRAGMA data_version, read on a connection of its own, changes when
 * any other connection committed, so polling it is how cached listings (the
 * ETags) learn of those tokens. Our own writes change it too; the extra bump
 * only costs one listing from the database. Dead rows are pruned hourly on
 * the way.
 */
static void store_sqlite_watch(void *argument)
{
	struct store_sqlite *store = argument;

	if (time(NULL) >= store->next_prune) {
		store_sqlite_prune(&store->base, time(NULL));
		store->next_prune = time(NULL) + STORE_PRUNE_INTERVAL;
	}
	if (sqlite3_step(store->watch_statement) == SQLITE_ROW) {
		int64_t version = sqlite3_column_int64(store->watch_statement, 0);

		if (version != store->last_data_version)
			store->generation++;
		store->last_data_version = version;
	}
	sqlite3_reset(store->watch_statement);
}

static int store_sqlite_watch_start(struct store *base)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	int err;

	err = store_sqlite_prune(base, time(NULL));
	if (err < 0)
		return err;
	store->next_prune = time(NULL) + STORE_PRUNE_INTERVAL;
	store->last_data_version = -1;
	if (sqlite3_open_v2(store->path, &store->watch_db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(store->watch_db, STORE_SQLITE_BUSY_TIMEOUT_MS) != SQLITE_OK ||
	    sqlite3_prepare_v2(store->watch_db, "PRAGMA data_version", -1, &store->watch_statement,
			       NULL) != SQLITE_OK)
		return store_sqlite_fail(store->watch_db, "watch for other writers");
	return ticker_start(&store->watcher, STORE_WATCH_INTERVAL_MS, store_sqlite_watch, store,
			    "watcher");
}

static void store_sqlite_watch_stop(struct store *base)
{
	struct store_sqlite *store = (struct store_sqlite *)base;

	ticker_stop(&store->watcher);
	sqlite3_finalize(store->watch_statement);
	store->watch_statement = NULL;
	sqlite3_close(store->watch_db);
	store->watch_db = NULL;
}

static void store_sqlite_close(struct store *base)
{
	struct store_sqlite *store = (struct store_sqlite *)base;
	if (store == NULL)
		return;
	store_sqlite_watch_stop(base);
	for (int i = 0; i < STORE_STATEMENT_COUNT; i++)
		sqlite3_finalize(store->statements[i]);
	sqlite3_close(store->db);
	pthread_mutex_destroy(&store->lock);
	free(store->path);
	free(store);
}

static const struct store_ops store_sqlite_ops = {
    .close = store_sqlite_close,
    .token_insert = store_sqlite_token_insert,
    .token_list = store_sqlite_token_list,
    .token_page = store_sqlite_token_page,
    .token_get = store_sqlite_token_get,
    .token_owner = store_sqlite_token_owner,
    .token_revoke = store_sqlite_token_revoke,
    .token_purge = store_sqlite_token_purge,
    .prune = store_sqlite_prune,
    .generation = store_sqlite_generation,
    .watch_start = store_sqlite_watch_start,
    .watch_stop = store_sqlite_watch_stop,
};

int store_sqlite_open(const char *dir, const char *name, struct store **result)
{
	struct store_sqlite *store = calloc(1, sizeof(*store));
	int err = -ENOMEM;

	if (store == NULL)
		return -ENOMEM;
	store->base.ops = &store_sqlite_ops;
	pthread_mutex_init(&store->lock, NULL);
	if (asprintf(&store->path, "%s/%s", dir, name) < 0) {
		store->path = NULL;
		goto out_err;
	}
	err = store_sqlite_file_open(dir, name, store->path, &store->db);
	if (err < 0)
		goto out_err;
	for (int i = 0; i < STORE_STATEMENT_COUNT; i++) {
		if (sqlite3_prepare_v3(store->db, store_statement_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &store->statements[i],
				       NULL) != SQLITE_OK) {
			err = store_sqlite_fail(store->db, store_statement_sql[i]);
			goto out_err;
		}
	}
	*result = &store->base;
	return 0;

out_err:
	store_sqlite_close(&store->base);
	return err;
}
