/*
 * Picks the storage backend of a --db URL and forwards each call of
 * store.h to it; see store_backend.h.
 */
#include "store_backend.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "datadir.h"
#include "log.h"

#define STORE_SQLITE_SCHEME "sqlite:"

bool store_url_is_shared(const char *url)
{
	return url != NULL &&
	       (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0);
}

/* sqlite:PATH: the file's directory is checked as a data directory is. */
static int store_open_sqlite_path(const char *path, struct store **store)
{
	char *for_dir = strdup(path), *for_name = strdup(path);
	int err = -ENOMEM;

	if (for_dir != NULL && for_name != NULL) {
		const char *name = basename(for_name);

		if (path[0] == '\0' || strcmp(name, "/") == 0 || strcmp(name, ".") == 0 ||
		    strcmp(name, "..") == 0) {
			log_error("--db sqlite:%s: not a file name", path);
			err = -EINVAL;
		} else {
			err = store_sqlite_open(dirname(for_dir), name, store);
		}
	}
	free(for_dir);
	free(for_name);
	return err;
}

int store_open(const char *url, const char *dir, struct store **store)
{
	if (url == NULL)
		return store_sqlite_open(dir, DATADIR_DATABASE, store);
	if (strncmp(url, STORE_SQLITE_SCHEME, strlen(STORE_SQLITE_SCHEME)) == 0)
		return store_open_sqlite_path(url + strlen(STORE_SQLITE_SCHEME), store);
	if (store_url_is_shared(url))
		return store_pg_open(url, store);
	log_error("--db: a URL is sqlite:PATH or postgresql://...");
	return -EINVAL;
}

void store_close(struct store *store)
{
	if (store != NULL)
		store->ops->close(store);
}

int store_token_insert(struct store *store, const char *user, struct store_token *token,
		       const char *idempotency_key, int64_t key_since, enum store_replay *replay)
{
	return store->ops->token_insert(store, user, token, idempotency_key, key_since, replay);
}

int store_token_list(struct store *store, const char *user, int64_t now, bool with_text,
		     store_token_visitor visit, void *context)
{
	return store->ops->token_list(store, user, now, with_text, visit, context);
}

int store_token_page(struct store *store, const char *user, int64_t now, bool with_text,
		     const char *after, int64_t count, store_token_visitor visit, void *context)
{
	return store->ops->token_page(store, user, now, with_text, after, count, visit, context);
}

int store_token_get(struct store *store, const char *user, const char *id, int64_t now,
		    struct store_token *token)
{
	return store->ops->token_get(store, user, id, now, token);
}

int store_token_owner(struct store *store, const char *id, char **user, int64_t *expires,
		      bool *revoked)
{
	return store->ops->token_owner(store, id, user, expires, revoked);
}

int store_token_revoke(struct store *store, const char *user, const char *id, int64_t now)
{
	char *owner = NULL;
	int64_t expires;
	bool revoked;
	int err;

	/* Another user's token is no token of this one's, and a second revoke changes nothing. */
	err = store->ops->token_owner(store, id, &owner, &expires, &revoked);
	if (err < 0)
		return err;
	if (strcmp(owner, user) != 0)
		err = -ENOENT;
	free(owner);
	if (err < 0 || revoked)
		return err;
	return store->ops->token_revoke(store, user, id, now);
}

int store_token_purge(struct store *store, const char *user, int64_t now)
{
	return store->ops->token_purge(store, user, now);
}

int store_prune(struct store *store, int64_t now)
{
	return store->ops->prune(store, now);
}

int store_generation(struct store *store, uint64_t *generation)
{
	return store->ops->generation(store, generation);
}

int store_watch_start(struct store *store)
{
	return store->ops->watch_start(store);
}

void store_watch_stop(struct store *store)
{
	store->ops->watch_stop(store);
}

int store_signing_key(struct store *store, store_key_maker make, char **pem, size_t *length)
{
	if (store->ops->signing_key == NULL)
		return -ENOTSUP;
	return store->ops->signing_key(store, make, pem, length);
}

int store_rate_take(struct store *store, const char *key, long limit, int64_t now,
		    struct ratelimit_state *state)
{
	if (store->ops->rate_take == NULL)
		return -ENOTSUP;
	return store->ops->rate_take(store, key, limit, now, state);
}
