/*
 * What the files of the client share behind rerobots/client.h: the client
 * itself. client.c makes it and answers the reads; change.c sends the
 * creates and revokes; own_token.c holds the token it authenticates with.
 * One mutex (lock) guards the cache and the flights and is never held
 * during a request.
 */
#ifndef RR_CLIENT_PRIVATE_H
#define RR_CLIENT_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "decode.h"
#include "flight.h"
#include "http.h"
#include "outcome.h"
#include "rerobots/client.h"
#include "settle.h"

struct rr_client {
	struct http_pool *http;
	struct settle *settle; /* creates whose outcome is unknown */
	char *origin;
	/* The token the client authenticates with, which rr_client_set_token() may change. */
	pthread_mutex_t own_lock;
	char own_id[RR_TOKEN_ID_LENGTH + 1];
	long timeout_ms;
	int64_t list_ttl_ms;

	pthread_mutex_t lock;
	struct cache cache;
	struct flights flights;

	/* Bumped whenever tokens leave the cache, so a slower answer cannot bring one back. */
	uint64_t removal_epoch;
	/* When rr_client_list last ran: a text miss soon after is likely a bulk read. */
	int64_t list_call_ms;
	bool list_called;
	/* When a bulk request last failed: until list_ttl later, texts are read one by one. */
	int64_t bulk_failed_ms;
	bool bulk_failed;

	struct outcome_log outcome_log;
};

/* Seconds since the Epoch, the clock of token expiries. */
int64_t client_now(void);

/* The public form of a decoded token. */
void client_token_from_decoded(struct rr_token *token, const struct decoded_token *decoded);

/* The settler's revoke of a token that a create whose outcome was unknown made (change.c). */
int change_settle_revoke(void *user, const char *operation, const char *id);

#endif
