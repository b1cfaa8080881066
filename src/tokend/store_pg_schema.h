/*
 * The tables of the PostgreSQL backend, and how a database comes to have
 * them: tokend_schema holds the version a database is at, and each step of
 * migration brings it to the next, in one transaction.
 */
#ifndef RR_TOKEND_STORE_PG_SCHEMA_H
#define RR_TOKEND_STORE_PG_SCHEMA_H

#include <libpq-fe.h>

/*
 * Creates or upgrades the schema in one transaction, under the advisory
 * lock: a second replica starting at the same moment waits, then finds
 * the schema done. 0, or a negative errno after logging why (-EIO for a
 * database whose version is newer than this service's).
 */
int store_pg_migrate(PGconn *conn);

#endif
