/*
 * The service's state: every token ever made (with its text, which
 * GET /token/ID and ?with_token=1 hand back) and the Idempotency-Key of
 * each POST /tokens, so that a retried request finds its token after a
 * restart too, or through another replica.
 *
 *     --db sqlite:PATH            one SQLite file (default: DIR/tokens.db)
 *     --db postgresql://host/db   PostgreSQL, shared by any number of replicas
 *
 * This header is the one interface of the service to its storage;
 * store_sqlite.c and store_pg.c are the backends, store.c picks one.
 * With PostgreSQL the signing key and the per-user rate limits live in the
 * database too; SQLite keeps the key in DIR and the limits in memory.
 *
 * One store is shared by all request threads. Functions return 0 or a
 * negative errno: -ENOENT where the token is not the caller's, -ENOTCONN
 * when the database cannot be reached now (a 503: retry later), -EIO when
 * the database failed otherwise (already logged).
 */
#ifndef RR_TOKEND_STORE_H
#define RR_TOKEND_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include "ratelimit.h"
#include "token_id.h"

struct store;

/* A row of the tokens table; text is only valid where a function says so. */
struct store_token {
	char id[TOKEN_ID_LENGTH + 1];
	const char *text;
	int64_t created;
	int64_t expires;
};

/*
 * Opens the database of url (NULL: sqlite:DIR/tokens.db), creating its
 * schema or bringing it up to date; -EINVAL (logged) for a url that names
 * no backend.
 */
int store_open(const char *url, const char *dir, struct store **store);

/* Whether replicas may share the database: a URL of PostgreSQL. */
bool store_url_is_shared(const char *url);

void store_close(struct store *store);

/* What an Idempotency-Key found. */
enum store_replay {
	/* None: the token was stored. */
	STORE_NEW,
	/* The same request made the earlier token, which is still active. */
	STORE_REPLAY,
	/* The same request made the earlier token, since revoked or expired. */
	STORE_REPLAY_INACTIVE,
	/* The key made a token for a request with another duration. */
	STORE_REPLAY_OTHER_REQUEST,
};

/*
 * Stores a new token of user. With an idempotency_key that user already
 * used since key_since, nothing is stored: *replay says why, and token is
 * overwritten with the earlier token, its text a secret_dup copy the
 * caller frees with secret_free. A request is the same when it asked for
 * the same duration (token->expires - token->created).
 */
int store_token_insert(struct store *store, const char *user, struct store_token *token,
		       const char *idempotency_key, int64_t key_since, enum store_replay *replay);

typedef int (*store_token_visitor)(const struct store_token *token, void *context);

/*
 * Calls visit for each active token of user (not revoked, expiring after
 * now), oldest first; token->text is valid during the call only, and NULL
 * unless with_text. A non-zero result of visit stops the walk and is
 * returned.
 */
int store_token_list(struct store *store, const char *user, int64_t now, bool with_text,
		     store_token_visitor visit, void *context);

/*
 * The same for at most count active tokens of user whose ids come after
 * after (NULL: from the first), in id order: a page of a listing.
 */
int store_token_page(struct store *store, const char *user, int64_t now, bool with_text,
		     const char *after, int64_t count, store_token_visitor visit, void *context);

/* Fills token with the active token id of user; its text is a secret_dup copy. */
int store_token_get(struct store *store, const char *user, const char *id, int64_t now,
		    struct store_token *token);

/* Who owns token id and whether it is revoked; user is a malloc'd copy. */
int store_token_owner(struct store *store, const char *id, char **user, int64_t *expires,
		      bool *revoked);

/* Revokes token id of user; a token already revoked is no error. */
int store_token_revoke(struct store *store, const char *user, const char *id, int64_t now);

/* Revokes every token of user. */
int store_token_purge(struct store *store, const char *user, int64_t now);

/*
 * How long a revoked or expired token stays in the database: a retried
 * revocation still finds it (200, not 404), as does a replayed
 * Idempotency-Key (which lives as long).
 */
#define STORE_KEEP_SECONDS (24 * 3600)

/*
 * Deletes the tokens revoked or expired over STORE_KEEP_SECONDS before
 * now, and the Idempotency-Keys as old, keeping every token a remaining
 * key names. store_watch_start prunes, then its thread does so hourly.
 */
int store_prune(struct store *store, int64_t now);

/*
 * A number that changes whenever the tokens may have changed, here or by
 * another process on the same database (--add-user, another replica). With
 * SQLite, read from memory, other processes' changes counted within
 * STORE_WATCH_INTERVAL_MS once store_watch_start has run; with PostgreSQL,
 * read from the database, so a change committed anywhere counts at once.
 */
int store_generation(struct store *store, uint64_t *generation);

#define STORE_WATCH_INTERVAL_MS 200

int store_watch_start(struct store *store);

void store_watch_stop(struct store *store);

/* Makes a new signing key in PEM form into *pem (freed with secret_free). */
typedef int (*store_key_maker)(char **pem, size_t *length);

/*
 * The signing key kept in the database, made with make by whichever
 * process asks first, into *pem (freed with secret_free); -ENOTSUP where
 * the key is a file of the data directory instead.
 */
int store_signing_key(struct store *store, store_key_maker make, char **pem, size_t *length);

/*
 * Counts one request of key against limit per hour in the database, as
 * ratelimit_take does in memory, so that every replica counts alike;
 * -ENOTSUP where the limits are the process's own.
 */
int store_rate_take(struct store *store, const char *key, long limit, int64_t now,
		    struct ratelimit_state *state);

#endif
