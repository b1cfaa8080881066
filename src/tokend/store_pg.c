/*
 * PostgreSQL storage through libpq, the backend of store.h for any number
 * of replicas on one database:
 *
 *     $ PGPASSWORD=... rerobots-tokend --db postgresql://tokend@db.example/tokend \
 *           --listen 127.0.0.1:8080
 *
 * Everything lives in the database: tokens, idempotency keys, the signing
 * key, rate-limit windows, and a counter (changes.generation) bumped in the
 * same transaction as every change to the tokens. Each request reads that
 * counter once, so remembered listings and verified tokens are trusted only
 * while nothing changed anywhere; a listing's ETag is a digest of its body,
 * which is the same on every replica for the same rows.
 *
 * The sessions, their pool and what a failure means are
 * store_pg_session.c's, the tables and their migration store_pg_schema.c's;
 * this file is the operations of store.h in SQL. It runs a little over 600
 * lines because the text of its statements stays beside the code that runs
 * them.
 */
#include "store_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"
#include "secret.h"
#include "store_pg_schema.h"
#include "store_pg_session.h"
#include "ticker.h"

#define STORE_PG_PRUNE_INTERVAL 3600
#define STORE_PG_INT_SIZE	24

enum store_pg_statement {
	STORE_PG_GENERATION,
	STORE_PG_BUMP,
	STORE_PG_DROP_OLD_KEY,
	STORE_PG_CLAIM_KEY,
	STORE_PG_FIND_KEY,
	STORE_PG_INSERT_TOKEN,
	STORE_PG_LIST,
	STORE_PG_LIST_WITH_TEXT,
	STORE_PG_PAGE,
	STORE_PG_PAGE_WITH_TEXT,
	STORE_PG_GET,
	STORE_PG_OWNER,
	STORE_PG_REVOKE,
	STORE_PG_PURGE,
	STORE_PG_PRUNE_KEYS,
	STORE_PG_PRUNE_TOKENS,
	STORE_PG_PRUNE_LIMITS,
	STORE_PG_RATE_TAKE,
	STORE_PG_STATEMENT_COUNT
};

static const char *const store_pg_statement_sql[STORE_PG_STATEMENT_COUNT] = {
    [STORE_PG_GENERATION] = "SELECT generation FROM changes",
    [STORE_PG_BUMP] = "UPDATE changes SET generation = generation + 1",
    [STORE_PG_DROP_OLD_KEY] = "DELETE FROM idempotency_keys"
			      " WHERE username = $1 AND key = $2 AND created < $3",
    /* Waits for a concurrent claim of the same key (another replica) to commit or roll back. */
    [STORE_PG_CLAIM_KEY] =
	"INSERT INTO idempotency_keys (username, key, token_id, created, duration)"
	" VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    [STORE_PG_FIND_KEY] = "SELECT t.id, t.token, t.created, t.expires, k.duration,"
			  " t.revoked IS NOT NULL"
			  " FROM idempotency_keys k JOIN tokens t ON t.id = k.token_id"
			  " WHERE k.username = $1 AND k.key = $2",
    [STORE_PG_INSERT_TOKEN] = "INSERT INTO tokens (id, username, token, created, expires)"
			      " VALUES ($1, $2, $3, $4, $5)",
    [STORE_PG_LIST] = "SELECT id, NULL, created, expires FROM tokens"
		      " WHERE username = $1 AND revoked IS NULL AND expires > $2"
		      " ORDER BY created, id",
    [STORE_PG_LIST_WITH_TEXT] = "SELECT id, token, created, expires FROM tokens"
				" WHERE username = $1 AND revoked IS NULL AND expires > $2"
				" ORDER BY created, id",
    [STORE_PG_PAGE] = "SELECT id, NULL, created, expires FROM tokens"
		      " WHERE username = $1 AND revoked IS NULL AND expires > $2 AND id > $3"
		      " ORDER BY id LIMIT $4",
    [STORE_PG_PAGE_WITH_TEXT] = "SELECT id, token, created, expires FROM tokens"
				" WHERE username = $1 AND revoked IS NULL AND expires > $2"
				" AND id > $3 ORDER BY id LIMIT $4",
    [STORE_PG_GET] = "SELECT id, token, created, expires FROM tokens"
		     " WHERE id = $1 AND username = $2 AND revoked IS NULL AND expires > $3",
    [STORE_PG_OWNER] = "SELECT username, expires, revoked IS NOT NULL FROM tokens WHERE id = $1",
    [STORE_PG_REVOKE] = "UPDATE tokens SET revoked = $3"
			" WHERE id = $1 AND username = $2 AND revoked IS NULL",
    [STORE_PG_PURGE] = "UPDATE tokens SET revoked = $2 WHERE username = $1 AND revoked IS NULL",
    [STORE_PG_PRUNE_KEYS] = "DELETE FROM idempotency_keys WHERE created < $1",
    [STORE_PG_PRUNE_TOKENS] = "DELETE FROM tokens t WHERE (revoked < $1 OR expires < $1)"
			      " AND NOT EXISTS (SELECT 1 FROM idempotency_keys k"
			      " WHERE k.token_id = t.id)",
    [STORE_PG_PRUNE_LIMITS] = "DELETE FROM rate_limits WHERE reset <= $1",
    /* One window per key and hour, as ratelimit.c keeps in memory; counts past the limit too,
     * which changes nothing a client sees (nothing remains either way). */
    [STORE_PG_RATE_TAKE] =
	"INSERT INTO rate_limits AS l (key, reset, used) VALUES ($1, $2 + 3600, 1)"
	" ON CONFLICT (key) DO UPDATE SET"
	" used = CASE WHEN l.reset <= $2 THEN 1 ELSE l.used + 1 END,"
	" reset = CASE WHEN l.reset <= $2 THEN $2 + 3600 ELSE l.reset END"
	" RETURNING used, reset",
};

struct store_pg {
	struct store base;
	struct store_pg_pool pool;
	struct ticker pruner;
};

static const char *store_pg_int(char *buffer, int64_t value)
{
	snprintf(buffer, STORE_PG_INT_SIZE, "%" PRId64, value);
	return buffer;
}

static int64_t store_pg_get_int(const PGresult *result, int row, int column)
{
	return strtoll(PQgetvalue(result, row, column), NULL, 10);
}

/*
 * Runs prepared statement which with values; *result is the rows (cleared
 * by the caller) or NULL on error.
 */
static int store_pg_run(PGconn *conn, enum store_pg_statement which, int count,
			const char *const *values, PGresult **result)
{
	char name[16];
	PGresult *answer;
	int err = 0;

	snprintf(name, sizeof(name), STORE_PG_STATEMENT_NAME, (int)which);
	answer = PQexecPrepared(conn, name, count, values, NULL, NULL, 0);
	if (PQresultStatus(answer) != PGRES_COMMAND_OK &&
	    PQresultStatus(answer) != PGRES_TUPLES_OK) {
		err = store_pg_fail(conn, answer, store_pg_statement_sql[which]);
		PQclear(answer);
		answer = NULL;
	}
	if (result != NULL)
		*result = answer;
	else
		PQclear(answer);
	return err;
}

/* The number of rows a command changed. */
static int64_t store_pg_changed(PGresult *result)
{
	return strtoll(PQcmdTuples(result), NULL, 10);
}

/* Reads columns id, token, created, expires of row; the text stays the result's. */
static void store_pg_read_token(const PGresult *result, int row, struct store_token *token)
{
	snprintf(token->id, sizeof(token->id), "%s", PQgetvalue(result, row, 0));
	token->text = PQgetisnull(result, row, 1) ? NULL : PQgetvalue(result, row, 1);
	token->created = store_pg_get_int(result, row, 2);
	token->expires = store_pg_get_int(result, row, 3);
}

static int store_pg_copy_text(struct store_token *token)
{
	token->text = secret_dup(token->text, strlen(token->text));
	return token->text == NULL ? -ENOMEM : 0;
}

/*
 * Claims key for token in the open transaction; 1 when another request
 * holds it already (its token copied into token, *replay says whether it
 * may be answered), 0 when claimed.
 */
static int store_pg_claim_key(PGconn *conn, const char *user, const char *key, int64_t key_since,
			      struct store_token *token, enum store_replay *replay)
{
	char since[STORE_PG_INT_SIZE], created[STORE_PG_INT_SIZE], duration[STORE_PG_INT_SIZE];
	int64_t asked = token->expires - token->created, now = token->created;
	const char *drop[] = {user, key, store_pg_int(since, key_since)};
	const char *claim[] = {user, key, token->id, store_pg_int(created, token->created),
			       store_pg_int(duration, asked)};
	const char *find[] = {user, key};
	PGresult *result;
	int err;

	err = store_pg_run(conn, STORE_PG_DROP_OLD_KEY, 3, drop, NULL);
	if (err == 0)
		err = store_pg_run(conn, STORE_PG_CLAIM_KEY, 5, claim, &result);
	if (err < 0)
		return err;
	err = store_pg_changed(result) == 1 ? 0 : 1;
	PQclear(result);
	if (err == 0)
		return 0;

	err = store_pg_run(conn, STORE_PG_FIND_KEY, 2, find, &result);
	if (err < 0)
		return err;
	if (PQntuples(result) != 1) {
		/* The key names a token that is gone: cannot happen, pruning keeps those. */
		log_error("database: an idempotency key names no token");
		PQclear(result);
		return -EIO;
	}
	store_pg_read_token(result, 0, token);
	if (store_pg_get_int(result, 0, 4) != asked)
		*replay = STORE_REPLAY_OTHER_REQUEST;
	else if (strcmp(PQgetvalue(result, 0, 5), "t") == 0 || token->expires <= now)
		*replay = STORE_REPLAY_INACTIVE;
	else
		*replay = STORE_REPLAY;
	err = store_pg_copy_text(token);
	PQclear(result);
	return err < 0 ? err : 1;
}

static int store_pg_token_insert(struct store *base, const char *user, struct store_token *token,
				 const char *idempotency_key, int64_t key_since,
				 enum store_replay *replay)
{
	struct store_pg *store = (struct store_pg *)base;
	struct store_pg_connection *connection;
	struct store_token earlier = *token;
	char created[STORE_PG_INT_SIZE], expires[STORE_PG_INT_SIZE];
	const char *values[] = {token->id, user, token->text, store_pg_int(created, token->created),
				store_pg_int(expires, token->expires)};
	PGconn *conn;
	int err;

	*replay = STORE_NEW;
	err = store_pg_begin(&store->pool, &connection);
	if (err < 0)
		return err;
	conn = connection->conn;
	if (idempotency_key != NULL)
		err = store_pg_claim_key(conn, user, idempotency_key, key_since, &earlier, replay);
	if (err == 1) {
		/* Nothing written: the earlier token answers. */
		store_pg_command(conn, "ROLLBACK");
		*token = earlier;
		err = 0;
		goto out;
	}
	if (err == 0)
		err = store_pg_run(conn, STORE_PG_INSERT_TOKEN, 5, values, NULL);
	if (err == 0)
		err = store_pg_run(conn, STORE_PG_BUMP, 0, NULL, NULL);
	if (err == 0)
		err = store_pg_command(conn, "COMMIT");
out:
	store_pg_release(&store->pool, connection);
	return err;
}

/* Runs a listing statement and calls visit for each row. */
static int store_pg_visit(struct store_pg *store, enum store_pg_statement which, int count,
			  const char *const *values, store_token_visitor visit, void *context)
{
	struct store_pg_connection *connection;
	struct store_token token;
	PGresult *result;
	int err;

	err = store_pg_acquire(&store->pool, &connection);
	if (err < 0)
		return err;
	err = store_pg_run(connection->conn, which, count, values, &result);
	store_pg_release(&store->pool, connection);
	if (err < 0)
		return err;
	for (int row = 0; row < PQntuples(result) && err == 0; row++) {
		store_pg_read_token(result, row, &token);
		err = visit(&token, context);
	}
	PQclear(result);
	return err;
}

static int store_pg_token_list(struct store *base, const char *user, int64_t now, bool with_text,
			       store_token_visitor visit, void *context)
{
	char when[STORE_PG_INT_SIZE];
	const char *values[] = {user, store_pg_int(when, now)};

	return store_pg_visit((struct store_pg *)base,
			      with_text ? STORE_PG_LIST_WITH_TEXT : STORE_PG_LIST, 2, values, visit,
			      context);
}

static int store_pg_token_page(struct store *base, const char *user, int64_t now, bool with_text,
			       const char *after, int64_t count, store_token_visitor visit,
			       void *context)
{
	char when[STORE_PG_INT_SIZE], limit[STORE_PG_INT_SIZE];
	/* Every id is above "": no cursor starts at the first token. */
	const char *values[] = {user, store_pg_int(when, now), after == NULL ? "" : after,
				store_pg_int(limit, count)};

	return store_pg_visit((struct store_pg *)base,
			      with_text ? STORE_PG_PAGE_WITH_TEXT : STORE_PG_PAGE, 4, values, visit,
			      context);
}

/* Runs a statement expected to return at most one row into *result; -ENOENT when none. */
static int store_pg_row(struct store_pg *store, enum store_pg_statement which, int count,
			const char *const *values, PGresult **result)
{
	struct store_pg_connection *connection;
	int err;

	err = store_pg_acquire(&store->pool, &connection);
	if (err < 0)
		return err;
	err = store_pg_run(connection->conn, which, count, values, result);
	store_pg_release(&store->pool, connection);
	if (err == 0 && PQntuples(*result) == 0) {
		PQclear(*result);
		err = -ENOENT;
	}
	return err;
}

static int store_pg_token_get(struct store *base, const char *user, const char *id, int64_t now,
			      struct store_token *token)
{
	char when[STORE_PG_INT_SIZE];
	const char *values[] = {id, user, store_pg_int(when, now)};
	PGresult *result;
	int err;

	err = store_pg_row((struct store_pg *)base, STORE_PG_GET, 3, values, &result);
	if (err < 0)
		return err;
	store_pg_read_token(result, 0, token);
	err = store_pg_copy_text(token);
	PQclear(result);
	return err;
}

static int store_pg_token_owner(struct store *base, const char *id, char **user, int64_t *expires,
				bool *revoked)
{
	const char *values[] = {id};
	PGresult *result;
	int err;

	err = store_pg_row((struct store_pg *)base, STORE_PG_OWNER, 1, values, &result);
	if (err < 0)
		return err;
	*user = strdup(PQgetvalue(result, 0, 0));
	*expires = store_pg_get_int(result, 0, 1);
	*revoked = strcmp(PQgetvalue(result, 0, 2), "t") == 0;
	PQclear(result);
	return *user == NULL ? -ENOMEM : 0;
}

/* Runs one change to the tokens durably, bumping the generation where it changed a row. */
static int store_pg_change(struct store_pg *store, enum store_pg_statement which, int count,
			   const char *const *values)
{
	struct store_pg_connection *connection;
	PGresult *result;
	int err;

	err = store_pg_begin(&store->pool, &connection);
	if (err < 0)
		return err;
	err = store_pg_run(connection->conn, which, count, values, &result);
	if (err == 0) {
		if (store_pg_changed(result) > 0)
			err = store_pg_run(connection->conn, STORE_PG_BUMP, 0, NULL, NULL);
		PQclear(result);
	}
	if (err == 0)
		err = store_pg_command(connection->conn, "COMMIT");
	store_pg_release(&store->pool, connection);
	return err;
}

static int store_pg_token_revoke(struct store *base, const char *user, const char *id, int64_t now)
{
	char when[STORE_PG_INT_SIZE];
	const char *values[] = {id, user, store_pg_int(when, now)};

	return store_pg_change((struct store_pg *)base, STORE_PG_REVOKE, 3, values);
}

static int store_pg_token_purge(struct store *base, const char *user, int64_t now)
{
	char when[STORE_PG_INT_SIZE];
	const char *values[] = {user, store_pg_int(when, now)};

	return store_pg_change((struct store_pg *)base, STORE_PG_PURGE, 2, values);
}

static int store_pg_prune(struct store *base, int64_t now)
{
	struct store_pg *store = (struct store_pg *)base;
	struct store_pg_connection *connection;
	char before[STORE_PG_INT_SIZE], when[STORE_PG_INT_SIZE];
	const char *old[] = {store_pg_int(before, now - STORE_KEEP_SECONDS)};
	const char *current[] = {store_pg_int(when, now)};
	PGresult *result = NULL;
	int err;

	err = store_pg_acquire(&store->pool, &connection);
	if (err < 0)
		return err;
	/* Keys first: a token is kept while a key names it. */
	err = store_pg_run(connection->conn, STORE_PG_PRUNE_KEYS, 1, old, NULL);
	if (err == 0)
		err = store_pg_run(connection->conn, STORE_PG_PRUNE_TOKENS, 1, old, &result);
	if (err == 0)
		err = store_pg_run(connection->conn, STORE_PG_PRUNE_LIMITS, 1, current, NULL);
	store_pg_release(&store->pool, connection);
	if (result != NULL && store_pg_changed(result) > 0)
		log_info("database: pruned %" PRId64 " revoked or expired tokens",
			 store_pg_changed(result));
	PQclear(result);
	return err;
}

static int store_pg_generation(struct store *base, uint64_t *generation)
{
	PGresult *result;
	int err;

	err = store_pg_row((struct store_pg *)base, STORE_PG_GENERATION, 0, NULL, &result);
	if (err == -ENOENT) {
		log_error("database: the changes table is empty");
		return -EIO;
	}
	if (err < 0)
		return err;
	*generation = strtoull(PQgetvalue(result, 0, 0), NULL, 10);
	PQclear(result);
	return 0;
}

static int store_pg_rate_take(struct store *base, const char *key, long limit, int64_t now,
			      struct ratelimit_state *state)
{
	char when[STORE_PG_INT_SIZE];
	const char *values[] = {key, store_pg_int(when, now)};
	PGresult *result;
	int64_t used;
	int err;

	err = store_pg_row((struct store_pg *)base, STORE_PG_RATE_TAKE, 2, values, &result);
	if (err == -ENOENT)
		return -EIO;
	if (err < 0)
		return err;
	used = store_pg_get_int(result, 0, 0);
	state->limit = limit;
	state->allowed = used <= limit;
	state->remaining = used < limit ? limit - used : 0;
	state->reset = store_pg_get_int(result, 0, 1);
	PQclear(result);
	return 0;
}

static int store_pg_signing_key(struct store *base, store_key_maker make, char **pem,
				size_t *length)
{
	struct store_pg *store = (struct store_pg *)base;
	struct store_pg_connection *connection;
	PGconn *conn;
	PGresult *result = NULL;
	int err;

	*pem = NULL;
	err = store_pg_begin(&store->pool, &connection);
	if (err < 0)
		return err;
	conn = connection->conn;
	err = store_pg_command(conn, "SELECT pg_advisory_xact_lock(" STORE_PG_LOCK_KEY ")");
	if (err < 0)
		goto out;
	result = PQexec(conn, "SELECT pem FROM signing_key");
	if (PQresultStatus(result) != PGRES_TUPLES_OK) {
		err = store_pg_fail(conn, result, "read the signing key");
		goto out;
	}
	if (PQntuples(result) == 1) {
		*length = (size_t)PQgetlength(result, 0, 0);
		*pem = secret_dup(PQgetvalue(result, 0, 0), *length);
		err = *pem == NULL ? -ENOMEM : store_pg_command(conn, "COMMIT");
		goto out;
	}
	err = make(pem, length);
	if (err == 0) {
		const char *values[] = {*pem};

		PQclear(result);
		result = PQexecParams(conn, "INSERT INTO signing_key (pem) VALUES ($1)", 1, NULL,
				      values, NULL, NULL, 0);
		if (PQresultStatus(result) != PGRES_COMMAND_OK)
			err = store_pg_fail(conn, result, "store the signing key");
	}
	if (err == 0)
		err = store_pg_command(conn, "COMMIT");
	if (err == 0)
		log_info("database: made the signing key");
out:
	PQclear(result);
	store_pg_release(&store->pool, connection);
	if (err < 0) {
		secret_free(*pem);
		*pem = NULL;
	}
	return err;
}

static void store_pg_prune_now(void *argument)
{
	struct store_pg *store = argument;

	store_pg_prune(&store->base, time(NULL));
}

static int store_pg_watch_start(struct store *base)
{
	struct store_pg *store = (struct store_pg *)base;
	int err;

	/* Every session made and its statements prepared now: preparing one later would wait
	 * for any lock on the tables, where a remembered listing needs none. */
	err = store_pg_pool_fill(&store->pool);
	if (err < 0)
		return err;
	err = store_pg_prune(base, time(NULL));
	if (err < 0)
		return err;
	return ticker_start(&store->pruner, STORE_PG_PRUNE_INTERVAL * 1000L, store_pg_prune_now,
			    store, "pruning");
}

static void store_pg_watch_stop(struct store *base)
{
	struct store_pg *store = (struct store_pg *)base;

	ticker_stop(&store->pruner);
}

static void store_pg_close(struct store *base)
{
	struct store_pg *store = (struct store_pg *)base;

	store_pg_watch_stop(base);
	store_pg_pool_destroy(&store->pool);
	free(store);
}

static const struct store_ops store_pg_ops = {
    .close = store_pg_close,
    .token_insert = store_pg_token_insert,
    .token_list = store_pg_token_list,
    .token_page = store_pg_token_page,
    .token_get = store_pg_token_get,
    .token_owner = store_pg_token_owner,
    .token_revoke = store_pg_token_revoke,
    .token_purge = store_pg_token_purge,
    .prune = store_pg_prune,
    .generation = store_pg_generation,
    .watch_start = store_pg_watch_start,
    .watch_stop = store_pg_watch_stop,
    .signing_key = store_pg_signing_key,
    .rate_take = store_pg_rate_take,
};

int store_pg_open(const char *conninfo, struct store **result)
{
	struct store_pg *store = calloc(1, sizeof(*store));
	PGconn *conn;
	int err;

	if (store == NULL)
		return -ENOMEM;
	store->base.ops = &store_pg_ops;
	err = store_pg_pool_init(&store->pool, conninfo, store_pg_statement_sql,
				 STORE_PG_STATEMENT_COUNT);
	if (err < 0) {
		store_pg_close(&store->base);
		return err;
	}
	conn = store_pg_connect(conninfo);
	err = conn == NULL ? -ENOTCONN : store_pg_migrate(conn);
	PQfinish(conn);
	if (err < 0) {
		store_pg_close(&store->base);
		return err;
	}
	*result = &store->base;
	return 0;
}
