/* The PostgreSQL backend's tables and their migration; see store_pg_schema.h. */
#include "store_pg_schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "store_pg_session.h"

/* Each step brings the schema from its index to the next version, in one transaction. */
static const char *const store_pg_migrations[] = {
    "CREATE TABLE tokens ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " username text NOT NULL,"
    " token text NOT NULL,"
    " created bigint NOT NULL,"
    " expires bigint NOT NULL,"
    " revoked bigint);"
    "CREATE INDEX tokens_by_user ON tokens (username, created, id);"
    "CREATE INDEX tokens_by_user_and_id ON tokens (username, id);"
    "CREATE TABLE idempotency_keys ("
    " username text NOT NULL,"
    " key text NOT NULL,"
    " token_id text NOT NULL,"
    " created bigint NOT NULL,"
    " duration bigint NOT NULL,"
    " PRIMARY KEY (username, key));"
    "CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created);"
    "CREATE TABLE signing_key ("
    " only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),"
    " pem text NOT NULL);"
    "CREATE TABLE rate_limits ("
    " key text PRIMARY KEY,"
    " reset bigint NOT NULL,"
    " used bigint NOT NULL);"
    "CREATE TABLE changes ("
    " only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),"
    " generation bigint NOT NULL);"
    "INSERT INTO changes (generation) VALUES (0);",
};

#define STORE_PG_SCHEMA_VERSION (int)(sizeof(store_pg_migrations) / sizeof(store_pg_migrations[0]))

int store_pg_migrate(PGconn *conn)
{
	PGresult *result = NULL;
	char update[64];
	int version, err;

	err = store_pg_command(conn, STORE_PG_BEGIN_DURABLE);
	if (err == 0)
		err = store_pg_command(conn, "SELECT pg_advisory_xact_lock(" STORE_PG_LOCK_KEY ")");
	if (err == 0)
		err = store_pg_command(conn, "CREATE TABLE IF NOT EXISTS tokend_schema"
					     " (version integer NOT NULL)");
	if (err < 0)
		goto out;
	result = PQexec(conn, "SELECT coalesce(max(version), 0) FROM tokend_schema");
	if (PQresultStatus(result) != PGRES_TUPLES_OK) {
		err = store_pg_fail(conn, result, "schema version");
		goto out;
	}
	version = atoi(PQgetvalue(result, 0, 0));
	if (version > STORE_PG_SCHEMA_VERSION) {
		log_error("database: schema version %d is newer than this service's (%d)", version,
			  STORE_PG_SCHEMA_VERSION);
		err = -EIO;
		goto out;
	}
	for (int step = version; err == 0 && step < STORE_PG_SCHEMA_VERSION; step++)
		err = store_pg_command(conn, store_pg_migrations[step]);
	if (err == 0 && version < STORE_PG_SCHEMA_VERSION) {
		snprintf(update, sizeof(update),
			 "DELETE FROM tokend_schema; INSERT INTO tokend_schema VALUES (%d)",
			 STORE_PG_SCHEMA_VERSION);
		err = store_pg_command(conn, update);
	}
	if (err == 0)
		err = store_pg_command(conn, "COMMIT");
out:
	PQclear(result);
	return err;
}
