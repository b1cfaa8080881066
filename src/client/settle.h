/*
 * Creates whose outcome is unknown, settled in the background.
 *
 * A POST /tokens that timed out, lost its answer, or got a 5xx or a body
 * that is not a token may still have made a token, which nobody would know
 * of: mkdir already failed. Its request is sent again, with the same
 * Idempotency-Key, until the service answers; the token the answer names
 * is then revoked. So a failed mkdir leaves no live token.
 *
 *   settle_add()      takes a request over; returns at once
 *   the thread        resends each request due, backing off from half a
 *                     second to 8 s, for at most SETTLE_BOUND_S; then
 *                     revokes what the answer named, likewise retried
 *
 * The thread starts with the first request and blocks every signal, as
 * libfuse's workers do, so that termination signals reach the main thread.
 */
#ifndef RR_CLIENT_SETTLE_H
#define RR_CLIENT_SETTLE_H

#include "http.h"

/* How long a create is resent before the log says what it may have left. */
#define SETTLE_BOUND_S 600

struct settle;

/*
 * Revokes the token id for the settler, on behalf of operation; 0, or a
 * negative errno (-ENOENT: it is gone already).
 */
typedef int (*settle_revoke_fn)(void *user, const char *operation, const char *id);

/* NULL when out of memory. */
struct settle *settle_new(struct http_pool *http, settle_revoke_fn revoke, void *revoke_user);

/*
 * Takes over a POST /tokens whose outcome is unknown: its Idempotency-Key
 * and JSON body, both copied, and the operation that made it (a string that
 * lives as long as the settler: "mkdir", "renew"). Logs why when it cannot.
 */
void settle_add(struct settle *settle, const char *operation, const char *idempotency_key,
		const char *body);

/* Stops the thread (after the request it may be sending) and frees everything. */
void settle_free(struct settle *settle);

#endif
