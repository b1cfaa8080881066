/* Remembered ETags of token listings; see etag.h. */
#include "etag.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "signer.h"

#define ETAG_BUCKETS	   256
#define ETAG_DIGEST_DIGITS 32

struct etag_entry {
	struct etag_entry *next;
	char user[SIGNER_USER_MAX + 1];
	bool with_token;
	uint64_t generation;
	int64_t valid_until;
	char etag[ETAG_SIZE];
};

struct etag_cache {
	pthread_rwlock_t lock;
	struct etag_entry *buckets[ETAG_BUCKETS];
};

int etag_cache_new(struct etag_cache **result)
{
	struct etag_cache *cache = calloc(1, sizeof(*cache));

	if (cache == NULL)
		return -ENOMEM;
	pthread_rwlock_init(&cache->lock, NULL);
	*result = cache;
	return 0;
}

void etag_cache_free(struct etag_cache *cache)
{
	if (cache == NULL)
		return;
	for (size_t i = 0; i < ETAG_BUCKETS; i++) {
		struct etag_entry *entry = cache->buckets[i];

		while (entry != NULL) {
			struct etag_entry *next = entry->next;

			free(entry);
			entry = next;
		}
	}
	pthread_rwlock_destroy(&cache->lock);
	free(cache);
}

/* FNV-1a of the user name. */
static struct etag_entry **etag_bucket(struct etag_cache *cache, const char *user)
{
	uint32_t hash = 2166136261u;

	for (const char *c = user; *c != '\0'; c++)
		hash = (hash ^ (unsigned char)*c) * 16777619u;
	return &cache->buckets[hash % ETAG_BUCKETS];
}

/* The caller holds cache->lock. */
static struct etag_entry *etag_find(struct etag_cache *cache, const char *user, bool with_token)
{
	for (struct etag_entry *entry = *etag_bucket(cache, user); entry != NULL;
	     entry = entry->next)
		if (entry->with_token == with_token && strcmp(entry->user, user) == 0)
			return entry;
	return NULL;
}

bool etag_cache_lookup(struct etag_cache *cache, const char *user, bool with_token,
		       uint64_t generation, int64_t now, char *etag)
{
	struct etag_entry *entry;
	bool found = false;

	pthread_rwlock_rdlock(&cache->lock);
	entry = etag_find(cache, user, with_token);
	if (entry != NULL && entry->generation == generation && now < entry->valid_until) {
		memcpy(etag, entry->etag, ETAG_SIZE);
		found = true;
	}
	pthread_rwlock_unlock(&cache->lock);
	return found;
}

int etag_cache_store(struct etag_cache *cache, const char *user, bool with_token,
		     uint64_t generation, int64_t valid_until, const char *etag)
{
	struct etag_entry *entry, **bucket;
	int err = 0;

	if (strlen(user) > SIGNER_USER_MAX)
		return -EINVAL;
	pthread_rwlock_wrlock(&cache->lock);
	entry = etag_find(cache, user, with_token);
	if (entry == NULL) {
		entry = calloc(1, sizeof(*entry));
		if (entry == NULL) {
			err = -ENOMEM;
			goto out;
		}
		strcpy(entry->user, user);
		entry->with_token = with_token;
		bucket = etag_bucket(cache, user);
		entry->next = *bucket;
		*bucket = entry;
	}
	/* A slower thread may bring an older listing; keep the newer one. */
	if (entry->etag[0] == '\0' || generation >= entry->generation) {
		entry->generation = generation;
		entry->valid_until = valid_until;
		memcpy(entry->etag, etag, ETAG_SIZE);
	}
out:
	pthread_rwlock_unlock(&cache->lock);
	return err;
}

int etag_compute(const char *body, size_t length, char *etag)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_length = 0;

	if (EVP_Digest(body, length, digest, &digest_length, EVP_sha256(), NULL) != 1 ||
	    digest_length * 2 < ETAG_DIGEST_DIGITS)
		return -EIO;
	etag[0] = '"';
	for (int i = 0; i < ETAG_DIGEST_DIGITS / 2; i++) {
		etag[1 + 2 * i] = hex[digest[i] >> 4];
		etag[2 + 2 * i] = hex[digest[i] & 0xf];
	}
	etag[ETAG_SIZE - 2] = '"';
	etag[ETAG_SIZE - 1] = '\0';
	return 0;
}

bool etag_matches(const char *if_none_match, const char *etag)
{
	size_t etag_length = strlen(etag);
	const char *item = if_none_match;

	while (*item != '\0') {
		const char *end;

		while (*item == ' ' || *item == '\t' || *item == ',')
			item++;
		end = item;
		while (*end != '\0' && *end != ',')
			end++;
		if (end - item >= 2 && strncmp(item, "W/", 2) == 0)
			item += 2;
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((end - item == 1 && *item == '*') ||
		    ((size_t)(end - item) == etag_length && strncmp(item, etag, etag_length) == 0))
			return true;
		item = end;
		while (*item != '\0' && *item != ',')
			item++;
	}
	return false;
}
