/* Sessions with PostgreSQL and their pool; see store_pg_session.h. */
#include "store_pg_session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "secret.h"

#define STORE_PG_CONNECT_TIMEOUT "5"

int store_pg_fail(PGconn *conn, const PGresult *result, const char *what)
{
	const char *state = result == NULL ? NULL : PQresultErrorField(result, PG_DIAG_SQLSTATE);
	const char *primary =
	    result == NULL ? NULL : PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
	const char *message = primary != NULL ? primary : PQerrorMessage(conn);
	size_t length = strlen(message);

	/* libpq ends its messages with a newline; the log adds its own. */
	while (length > 0 && message[length - 1] == '\n')
		length--;
	log_error("database: %s: %.*s", what, (int)length, message);
	if (PQstatus(conn) != CONNECTION_OK || state == NULL || strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0)
		return -ENOTCONN;
	return -EIO;
}

int store_pg_command(PGconn *conn, const char *sql)
{
	PGresult *result = PQexec(conn, sql);
	int err = 0;

	if (PQresultStatus(result) != PGRES_COMMAND_OK && PQresultStatus(result) != PGRES_TUPLES_OK)
		err = store_pg_fail(conn, result, sql);
	PQclear(result);
	return err;
}

/* libpq prints notices (e.g. "relation exists") on stderr by default; they are no errors. */
static void store_pg_ignore_notice(void *context, const char *message)
{
	(void)context;
	(void)message;
}

/* A new session: connect_timeout and application_name unless the URL says otherwise. */
PGconn *store_pg_connect(const char *conninfo)
{
	static const char *const keywords[] = {"connect_timeout", "application_name", "dbname",
					       NULL};
	const char *const values[] = {STORE_PG_CONNECT_TIMEOUT, "rerobots-tokend", conninfo, NULL};
	PGconn *conn = PQconnectdbParams(keywords, values, 1);

	if (conn == NULL) {
		log_error("database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		store_pg_fail(conn, NULL, "connect");
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, store_pg_ignore_notice, NULL);
	return conn;
}

/* A session for requests: asynchronous commits (see store_pg_session.h), statements prepared. */
static int store_pg_prepare(struct store_pg_pool *pool, PGconn *conn)
{
	char name[16];
	int err;

	err = store_pg_command(conn, "SET synchronous_commit TO off");
	for (int i = 0; err == 0 && i < pool->statement_count; i++) {
		PGresult *result;

		snprintf(name, sizeof(name), STORE_PG_STATEMENT_NAME, i);
		result = PQprepare(conn, name, pool->statements[i], 0, NULL);
		if (PQresultStatus(result) != PGRES_COMMAND_OK)
			err = store_pg_fail(conn, result, pool->statements[i]);
		PQclear(result);
	}
	return err;
}

/* A new session for requests into connection->conn; -ENOTCONN where the server cannot be had. */
static int store_pg_open_connection(struct store_pg_pool *pool,
				    struct store_pg_connection *connection)
{
	connection->conn = store_pg_connect(pool->conninfo);
	if (connection->conn != NULL && store_pg_prepare(pool, connection->conn) < 0) {
		PQfinish(connection->conn);
		connection->conn = NULL;
	}
	return connection->conn == NULL ? -ENOTCONN : 0;
}

int store_pg_acquire(struct store_pg_pool *pool, struct store_pg_connection **result)
{
	struct store_pg_connection *connection = NULL;

	pthread_mutex_lock(&pool->lock);
	while (connection == NULL) {
		for (int i = 0; i < STORE_PG_CONNECTIONS && connection == NULL; i++)
			if (!pool->connections[i].busy)
				connection = &pool->connections[i];
		if (connection == NULL)
			pthread_cond_wait(&pool->available, &pool->lock);
	}
	connection->busy = true;
	pthread_mutex_unlock(&pool->lock);

	if (connection->conn != NULL && PQstatus(connection->conn) != CONNECTION_OK) {
		PQfinish(connection->conn);
		connection->conn = NULL;
	}
	if (connection->conn == NULL && store_pg_open_connection(pool, connection) < 0) {
		pthread_mutex_lock(&pool->lock);
		connection->busy = false;
		pthread_cond_signal(&pool->available);
		pthread_mutex_unlock(&pool->lock);
		return -ENOTCONN;
	}
	*result = connection;
	return 0;
}

int store_pg_begin(struct store_pg_pool *pool, struct store_pg_connection **result)
{
	int err = store_pg_acquire(pool, result);

	if (err == 0) {
		err = store_pg_command((*result)->conn, STORE_PG_BEGIN_DURABLE);
		if (err < 0)
			store_pg_release(pool, *result);
	}
	return err;
}

void store_pg_release(struct store_pg_pool *pool, struct store_pg_connection *connection)
{
	if (PQstatus(connection->conn) == CONNECTION_OK &&
	    PQtransactionStatus(connection->conn) != PQTRANS_IDLE)
		store_pg_command(connection->conn, "ROLLBACK");
	pthread_mutex_lock(&pool->lock);
	connection->busy = false;
	pthread_cond_signal(&pool->available);
	pthread_mutex_unlock(&pool->lock);
}

int store_pg_pool_init(struct store_pg_pool *pool, const char *conninfo,
		       const char *const *statements, int statement_count)
{
	pool->statements = statements;
	pool->statement_count = statement_count;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->available, NULL);
	/* A URL may hold a password: kept as a secret, never logged. */
	pool->conninfo = secret_dup(conninfo, strlen(conninfo));
	return pool->conninfo == NULL ? -ENOMEM : 0;
}

void store_pg_pool_destroy(struct store_pg_pool *pool)
{
	for (int i = 0; i < STORE_PG_CONNECTIONS; i++)
		PQfinish(pool->connections[i].conn);
	pthread_cond_destroy(&pool->available);
	pthread_mutex_destroy(&pool->lock);
	secret_free(pool->conninfo);
}

int store_pg_pool_fill(struct store_pg_pool *pool)
{
	int err;

	for (int i = 0; i < STORE_PG_CONNECTIONS; i++) {
		if (pool->connections[i].conn != NULL)
			continue;
		err = store_pg_open_connection(pool, &pool->connections[i]);
		if (err < 0)
			return err;
	}
	return 0;
}
