/*
 * Sessions with PostgreSQL for store_pg.c: connecting, the pool that lends
 * one to each request thread, running SQL on one, and what a failure means.
 *
 * A pool of connections, one per request thread at most, each with its
 * statements prepared. A connection that broke (the server restarted) is
 * made again by the next request that takes it; until the server answers,
 * requests get -ENOTCONN (503).
 *
 * Sessions run with synchronous_commit off, for the rate-limit counts
 * written on every request (a crash may forget a few of those). Every
 * change to tokens, keys or the signing key runs in a transaction that
 * sets it back to the database's default first (STORE_PG_BEGIN_DURABLE):
 * acknowledged means on disk, as with SQLite.
 */
#ifndef RR_TOKEND_STORE_PG_SESSION_H
#define RR_TOKEND_STORE_PG_SESSION_H

#include <pthread.h>
#include <stdbool.h>

#include <libpq-fe.h>

#define STORE_PG_CONNECTIONS 8
/* Two replicas migrating or making the signing key at once take turns on this lock. */
#define STORE_PG_LOCK_KEY "7427101113"
/* Opens a transaction whose commit waits for the disk, whatever the session's setting. */
#define STORE_PG_BEGIN_DURABLE "BEGIN; SET LOCAL synchronous_commit TO DEFAULT"
/* The name statement i of the pool's table is prepared under on each session (a format of i). */
#define STORE_PG_STATEMENT_NAME "s%d"

struct store_pg_connection {
	PGconn *conn;
	bool busy;
};

struct store_pg_pool {
	char *conninfo;
	/* Prepared on every session of the pool. */
	const char *const *statements;
	int statement_count;
	pthread_mutex_t lock;
	pthread_cond_t available;
	struct store_pg_connection connections[STORE_PG_CONNECTIONS];
};

/*
 * An empty pool (pool was zeroed) for conninfo, whose sessions will have
 * statements prepared; -ENOMEM. store_pg_pool_destroy frees it either way.
 */
int store_pg_pool_init(struct store_pg_pool *pool, const char *conninfo,
		       const char *const *statements, int statement_count);

/* Closes every session. */
void store_pg_pool_destroy(struct store_pg_pool *pool);

/* Makes every session of the pool that is missing; -ENOTCONN where the server cannot be had. */
int store_pg_pool_fill(struct store_pg_pool *pool);

/*
 * Takes a free connection, (re)connecting where it is missing or broke;
 * -ENOTCONN while the server cannot be reached.
 */
int store_pg_acquire(struct store_pg_pool *pool, struct store_pg_connection **connection);

/* store_pg_acquire, then BEGIN with STORE_PG_BEGIN_DURABLE; on failure nothing is held. */
int store_pg_begin(struct store_pg_pool *pool, struct store_pg_connection **connection);

/* Gives a connection back, leaving no transaction open on it. */
void store_pg_release(struct store_pg_pool *pool, struct store_pg_connection *connection);

/* A new session of its own (no statements prepared), or NULL after logging why. */
PGconn *store_pg_connect(const char *conninfo);

/*
 * Why a command failed: -ENOTCONN when the server went away or is not
 * accepting work (a restart: the next request reconnects), -EIO otherwise.
 * Logged either way, the primary message only: a DETAIL line may quote a
 * row's values.
 */
int store_pg_fail(PGconn *conn, const PGresult *result, const char *what);

/* Runs SQL text without parameters (one or more statements). */
int store_pg_command(PGconn *conn, const char *sql);

#endif
