/*
 * Who is calling: checks the Authorization header of each request.
 *
 * A token is verified once (RS256 signature, claims, and the database: it
 * must be ours, unrevoked, and belong to its sub); then its id stays in an
 * in-memory table, so the hot path neither re-verifies RSA nor touches
 * SQLite. Tokens revoked or expired leave the table within a minute
 * (a later use is verified again, and refused).
 *
 * Only this process revokes tokens (--add-user merely adds), so it can keep
 * the table exact by calling auth_forget_* when it revokes.
 */
#ifndef RR_TOKEND_AUTH_H
#define RR_TOKEND_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "signer.h"
#include "store.h"
#include "token_id.h"

struct auth;

struct auth_session {
	char user[SIGNER_USER_MAX + 1];
	char id[TOKEN_ID_LENGTH + 1];
};

int auth_new(struct store *store, struct signer *signer, struct auth **auth);

void auth_free(struct auth *auth);

/*
 * Authenticates an Authorization header value ("Bearer TOKEN"; NULL when
 * absent) at time now. 0 with session filled; -EACCES for a missing,
 * malformed, badly signed, expired, revoked or unknown token; -EAGAIN,
 * without verifying anything, for a token not in the table when verify
 * is false; -EIO or -ENOMEM when the service failed. generation is the
 * store's, read for this request: a token verified at another is looked up
 * again (without RSA), since another process may have revoked it.
 */
int auth_check(struct auth *auth, const char *authorization, int64_t now, bool verify,
	       uint64_t generation, struct auth_session *session);

/* Token id was revoked. */
void auth_forget_token(struct auth *auth, const char *id);

/* Every token of user was revoked. */
void auth_forget_user(struct auth *auth, const char *user);

#endif
