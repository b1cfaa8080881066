/*
 * What a storage backend provides behind store.h: a table of its
 * operations, reached through the struct store each backend's own
 * structure begins with. store.c dispatches; a backend leaves an operation
 * it has no use for NULL (the signing key, rate limits: -ENOTSUP).
 */
#ifndef RR_TOKEND_STORE_BACKEND_H
#define RR_TOKEND_STORE_BACKEND_H

#include "store.h"

struct store_ops {
	void (*close)(struct store *store);
	int (*token_insert)(struct store *store, const char *user, struct store_token *token,
			    const char *idempotency_key, int64_t key_since,
			    enum store_replay *replay);
	int (*token_list)(struct store *store, const char *user, int64_t now, bool with_text,
			  store_token_visitor visit, void *context);
	int (*token_page)(struct store *store, const char *user, int64_t now, bool with_text,
			  const char *after, int64_t count, store_token_visitor visit,
			  void *context);
	int (*token_get)(struct store *store, const char *user, const char *id, int64_t now,
			 struct store_token *token);
	int (*token_owner)(struct store *store, const char *id, char **user, int64_t *expires,
			   bool *revoked);
	/* Only called for a token of user's that is not revoked (store.c checks). */
	int (*token_revoke)(struct store *store, const char *user, const char *id, int64_t now);
	int (*token_purge)(struct store *store, const char *user, int64_t now);
	int (*prune)(struct store *store, int64_t now);
	int (*generation)(struct store *store, uint64_t *generation);
	int (*watch_start)(struct store *store);
	void (*watch_stop)(struct store *store);
	int (*signing_key)(struct store *store, store_key_maker make, char **pem, size_t *length);
	int (*rate_take)(struct store *store, const char *key, long limit, int64_t now,
			 struct ratelimit_state *state);
};

struct store {
	const struct store_ops *ops;
};

/* The SQLite file name in dir, made where missing. */
int store_sqlite_open(const char *dir, const char *name, struct store **store);

/* A libpq connection string or URI; PG* environment variables fill what it omits. */
int store_pg_open(const char *conninfo, struct store **store);

#endif
