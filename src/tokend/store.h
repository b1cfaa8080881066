/*
 * The service's state in DIR/tokens.db: every token ever made (with its text,
 * which GET /token/ID and ?with_token=1 hand back) and the Idempotency-Key
 * of each POST /tokens, so that a retried request finds its token after a
 * restart too.
 *
 * One store is shared by all request threads; it serializes them on its own
 * connection. Functions return 0 or a negative errno: -ENOENT where the
 * token is not the caller's, -EIO when SQLite failed (already logged).
 */
#ifndef RR_TOKEND_STORE_H
#define RR_TOKEND_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "token_id.h"

struct store;

/* A row of the tokens table; text is only valid where a function says so. */
struct store_token {
	char id[TOKEN_ID_LENGTH + 1];
	const char *text;
	int64_t created;
	int64_t expires;
};

/* Opens (creating where missing) the database in dir, in WAL mode. */
int store_open(const char *dir, struct store **store);

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
 * another process on the same database (--add-user), the latter within
 * STORE_WATCH_INTERVAL_MS once store_watch_start has run.
 */
uint64_t store_generation(struct store *store);

#define STORE_WATCH_INTERVAL_MS 200

int store_watch_start(struct store *store);

void store_watch_stop(struct store *store);

#endif
