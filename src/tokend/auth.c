/* Bearer token checks with a table of verified tokens; see auth.h. */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "secret.h"

#define AUTH_BUCKETS	   1024
#define AUTH_SWEEP_SECONDS 60
#define AUTH_BEARER_PREFIX "Bearer "
/* Far above any token we sign; a longer header is not worth an RSA check. */
#define AUTH_TOKEN_LENGTH_MAX 4096

/* Revoked entries stay until the next sweep, answering a revoked token's
 * retries without RSA. */
struct auth_entry {
	struct auth_entry *next;
	char id[TOKEN_ID_LENGTH + 1];
	char user[SIGNER_USER_MAX + 1];
	int64_t expires;
	bool revoked;
	/* The store's generation when revoked was read; another one means it may be stale. */
	uint64_t generation;
};

struct auth {
	struct store *store;
	struct signer *signer;
	pthread_rwlock_t lock;
	/* When auth_admit next drops revoked and expired entries. */
	int64_t next_sweep;
	struct auth_entry *buckets[AUTH_BUCKETS];
};

int auth_new(struct store *store, struct signer *signer, struct auth **result)
{
	struct auth *auth = calloc(1, sizeof(*auth));

	if (auth == NULL)
		return -ENOMEM;
	auth->store = store;
	auth->signer = signer;
	pthread_rwlock_init(&auth->lock, NULL);
	*result = auth;
	return 0;
}

void auth_free(struct auth *auth)
{
	if (auth == NULL)
		return;
	for (size_t i = 0; i < AUTH_BUCKETS; i++) {
		struct auth_entry *entry = auth->buckets[i];

		while (entry != NULL) {
			struct auth_entry *next = entry->next;

			free(entry);
			entry = next;
		}
	}
	pthread_rwlock_destroy(&auth->lock);
	free(auth);
}

/* Ids are SHA-256 digests in hex, so their first digits spread evenly. */
static struct auth_entry **auth_bucket(struct auth *auth, const char *id)
{
	size_t index = 0;

	for (int i = 0; i < 3; i++)
		index = index * 16 + (size_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
	return &auth->buckets[index % AUTH_BUCKETS];
}

/* The caller holds auth->lock. */
static struct auth_entry *auth_find(struct auth *auth, const char *id)
{
	for (struct auth_entry *entry = *auth_bucket(auth, id); entry != NULL; entry = entry->next)
		if (strcmp(entry->id, id) == 0)
			return entry;
	return NULL;
}

/* The token in "Bearer TOKEN", surrounding white space ignored; NULL when malformed. */
static char *auth_bearer_token(const char *authorization)
{
	const char *start, *end;

	if (authorization == NULL ||
	    strncasecmp(authorization, AUTH_BEARER_PREFIX, strlen(AUTH_BEARER_PREFIX)) != 0)
		return NULL;
	start = authorization + strlen(AUTH_BEARER_PREFIX);
	while (*start == ' ' || *start == '\t')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == start || end - start > AUTH_TOKEN_LENGTH_MAX)
		return NULL;
	return secret_dup(start, (size_t)(end - start));
}

/* Drops the entries of tokens revoked or expired; the caller holds the write lock. */
static void auth_sweep(struct auth *auth, int64_t now)
{
	for (size_t i = 0; i < AUTH_BUCKETS; i++) {
		struct auth_entry **link = &auth->buckets[i];

		while (*link != NULL) {
			struct auth_entry *entry = *link;

			if (!entry->revoked && entry->expires > now) {
				link = &entry->next;
				continue;
			}
			*link = entry->next;
			free(entry);
		}
	}
}

/*
 * A token not in the table: verify it, then look it up in the database and
 * enter it. The lookup happens under the write lock so that a revocation
 * committed meanwhile cannot slip between the two: auth_forget_* waits for
 * the entry and marks it.
 */
static int auth_admit(struct auth *auth, const char *text, const char *id, int64_t now,
		      uint64_t generation)
{
	char user[SIGNER_USER_MAX + 1];
	struct auth_entry *entry = NULL, **bucket;
	char *owner = NULL;
	int64_t expires;
	bool revoked;
	int err;

	if (signer_verify(auth->signer, text, now, user) < 0)
		return -EACCES;

	pthread_rwlock_wrlock(&auth->lock);
	if (now >= auth->next_sweep) {
		auth_sweep(auth, now);
		auth->next_sweep = now + AUTH_SWEEP_SECONDS;
	}
	if (auth_find(auth, id) != NULL) {
		err = 0;
		goto out;
	}
	err = store_token_owner(auth->store, id, &owner, &expires, &revoked);
	if (err == -ENOENT || (err == 0 && strcmp(owner, user) != 0))
		err = -EACCES;
	if (err < 0)
		goto out;
	entry = calloc(1, sizeof(*entry));
	if (entry == NULL) {
		err = -ENOMEM;
		goto out;
	}
	strcpy(entry->id, id);
	strcpy(entry->user, user);
	entry->expires = expires;
	entry->revoked = revoked;
	entry->generation = generation;
	bucket = auth_bucket(auth, id);
	entry->next = *bucket;
	*bucket = entry;
out:
	pthread_rwlock_unlock(&auth->lock);
	free(owner);
	return err;
}

/*
 * 1 when id is in the table (then session is filled or -EACCES returned),
 * 0 when not, 2 when its entry was read at an older generation than the
 * store's now (another process may have revoked it since). Generations only
 * grow: an entry read at a newer one than this request's is fresh enough.
 */
static int auth_lookup(struct auth *auth, const char *id, int64_t now, uint64_t generation,
		       struct auth_session *session)
{
	struct auth_entry *entry;
	int result = 0;

	pthread_rwlock_rdlock(&auth->lock);
	entry = auth_find(auth, id);
	if (entry != NULL) {
		if (entry->revoked || entry->expires <= now) {
			result = -EACCES;
		} else if (entry->generation < generation) {
			result = 2;
		} else {
			strcpy(session->user, entry->user);
			strcpy(session->id, entry->id);
			result = 1;
		}
	}
	pthread_rwlock_unlock(&auth->lock);
	return result;
}

/*
 * Reads again whether token id, verified before, was revoked: the store
 * changed since, maybe through another process. No RSA: the entry shows
 * the text was verified.
 */
static int auth_refresh(struct auth *auth, const char *id, uint64_t generation)
{
	struct auth_entry *entry;
	char *owner = NULL;
	int64_t expires;
	bool revoked;
	int err;

	err = store_token_owner(auth->store, id, &owner, &expires, &revoked);
	if (err == -ENOENT) {
		/* Pruned: long revoked or expired. */
		revoked = true;
		err = 0;
	}
	free(owner);
	if (err < 0)
		return err;
	pthread_rwlock_wrlock(&auth->lock);
	entry = auth_find(auth, id);
	if (entry != NULL) {
		entry->revoked = entry->revoked || revoked;
		if (entry->generation < generation)
			entry->generation = generation;
	}
	pthread_rwlock_unlock(&auth->lock);
	return 0;
}

int auth_check(struct auth *auth, const char *authorization, int64_t now, bool verify,
	       uint64_t generation, struct auth_session *session)
{
	char id[TOKEN_ID_LENGTH + 1];
	char *text = auth_bearer_token(authorization);
	int err;

	if (text == NULL)
		return -EACCES;
	err = token_id_compute(text, strlen(text), id);
	if (err < 0)
		goto out;
	err = auth_lookup(auth, id, now, generation, session);
	if (err == 2) {
		err = auth_refresh(auth, id, generation);
		if (err == 0)
			err = auth_lookup(auth, id, now, generation, session);
	}
	/* Only 1 fills the session: anything else must not pass for a success. */
	if (err == 2)
		err = -EIO;
	if (err != 0)
		goto out;
	if (!verify) {
		err = -EAGAIN;
		goto out;
	}
	err = auth_admit(auth, text, id, now, generation);
	if (err < 0)
		goto out;
	err = auth_lookup(auth, id, now, generation, session);
	/* Entered at an older generation by a slower thread: as good as fresh for this request. */
	if (err == 2)
		err = auth_refresh(auth, id, generation) == 0
			  ? auth_lookup(auth, id, now, generation, session)
			  : -EIO;
	if (err != 1)
		err = err < 0 ? err : -EIO;
out:
	secret_free(text);
	return err < 0 ? err : 0;
}

void auth_forget_token(struct auth *auth, const char *id)
{
	struct auth_entry *entry;

	pthread_rwlock_wrlock(&auth->lock);
	entry = auth_find(auth, id);
	if (entry != NULL)
		entry->revoked = true;
	pthread_rwlock_unlock(&auth->lock);
}

void auth_forget_user(struct auth *auth, const char *user)
{
	pthread_rwlock_wrlock(&auth->lock);
	for (size_t i = 0; i < AUTH_BUCKETS; i++)
		for (struct auth_entry *entry = auth->buckets[i]; entry != NULL;
		     entry = entry->next)
			if (strcmp(entry->user, user) == 0)
				entry->revoked = true;
	pthread_rwlock_unlock(&auth->lock);
}
