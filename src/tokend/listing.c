/* Remembered token listings; see listing.h. */
#include "listing.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "secret.h"
#include "signer.h"

#define LISTING_BUCKETS	    256
#define LISTING_ETAG_DIGITS 32

struct listing_entry {
	struct listing_entry *next;
	char user[SIGNER_USER_MAX + 1];
	uint64_t generation;
	int64_t valid_until;
	char etag[LISTING_ETAG_SIZE];
	char *body;
};

struct listing_cache {
	pthread_rwlock_t lock;
	struct listing_entry *buckets[LISTING_BUCKETS];
};

int listing_cache_new(struct listing_cache **result)
{
	struct listing_cache *cache = calloc(1, sizeof(*cache));

	if (cache == NULL)
		return -ENOMEM;
	pthread_rwlock_init(&cache->lock, NULL);
	*result = cache;
	return 0;
}

void listing_cache_free(struct listing_cache *cache)
{
	if (cache == NULL)
		return;
	for (size_t i = 0; i < LISTING_BUCKETS; i++) {
		struct listing_entry *entry = cache->buckets[i];

		while (entry != NULL) {
			struct listing_entry *next = entry->next;

			free(entry->body);
			free(entry);
			entry = next;
		}
	}
	pthread_rwlock_destroy(&cache->lock);
	free(cache);
}

/* FNV-1a of the user name. */
static struct listing_entry **listing_bucket(struct listing_cache *cache, const char *user)
{
	uint32_t hash = 2166136261u;

	for (const char *c = user; *c != '\0'; c++)
		hash = (hash ^ (unsigned char)*c) * 16777619u;
	return &cache->buckets[hash % LISTING_BUCKETS];
}

/* The caller holds cache->lock. */
static struct listing_entry *listing_find(struct listing_cache *cache, const char *user)
{
	for (struct listing_entry *entry = *listing_bucket(cache, user); entry != NULL;
	     entry = entry->next)
		if (strcmp(entry->user, user) == 0)
			return entry;
	return NULL;
}

bool listing_cache_lookup(struct listing_cache *cache, const char *user, uint64_t generation,
			  int64_t now, char *etag, char **body)
{
	struct listing_entry *entry;
	bool found = false;

	pthread_rwlock_rdlock(&cache->lock);
	entry = listing_find(cache, user);
	if (entry == NULL || entry->generation != generation || now >= entry->valid_until)
		goto out;
	if (body != NULL) {
		if (entry->body == NULL)
			goto out;
		*body = secret_dup(entry->body, strlen(entry->body));
		if (*body == NULL)
			goto out;
	}
	memcpy(etag, entry->etag, LISTING_ETAG_SIZE);
	found = true;
out:
	pthread_rwlock_unlock(&cache->lock);
	return found;
}

int listing_cache_store(struct listing_cache *cache, const char *user, uint64_t generation,
			int64_t valid_until, const char *etag, const char *body)
{
	struct listing_entry *entry, **bucket;
	char *copy = NULL;
	int err = 0;

	if (strlen(user) > SIGNER_USER_MAX)
		return -EINVAL;
	if (body != NULL && (copy = strdup(body)) == NULL)
		return -ENOMEM;
	pthread_rwlock_wrlock(&cache->lock);
	entry = listing_find(cache, user);
	if (entry == NULL) {
		entry = calloc(1, sizeof(*entry));
		if (entry == NULL) {
			err = -ENOMEM;
			goto out;
		}
		strcpy(entry->user, user);
		bucket = listing_bucket(cache, user);
		entry->next = *bucket;
		*bucket = entry;
	}
	/* A slower thread may bring an older listing; keep the newer one. */
	if (entry->etag[0] == '\0' || generation >= entry->generation) {
		entry->generation = generation;
		entry->valid_until = valid_until;
		memcpy(entry->etag, etag, LISTING_ETAG_SIZE);
		free(entry->body);
		entry->body = copy;
		copy = NULL;
	}
out:
	pthread_rwlock_unlock(&cache->lock);
	free(copy);
	return err;
}

int listing_etag_compute(const char *body, size_t length, char *etag)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_length = 0;

	if (EVP_Digest(body, length, digest, &digest_length, EVP_sha256(), NULL) != 1 ||
	    digest_length * 2 < LISTING_ETAG_DIGITS)
		return -EIO;
	etag[0] = '"';
	for (int i = 0; i < LISTING_ETAG_DIGITS / 2; i++) {
		etag[1 + 2 * i] = hex[digest[i] >> 4];
		etag[2 + 2 * i] = hex[digest[i] & 0xf];
	}
	etag[LISTING_ETAG_SIZE - 2] = '"';
	etag[LISTING_ETAG_SIZE - 1] = '\0';
	return 0;
}

int listing_etag_derive(const char *etag, const char *representation, char *derived)
{
	char seed[LISTING_ETAG_SIZE + 64];
	int length = snprintf(seed, sizeof(seed), "%s %s", representation, etag);

	if (length < 0 || (size_t)length >= sizeof(seed))
		return -EINVAL;
	return listing_etag_compute(seed, (size_t)length, derived);
}

bool listing_etag_matches(const char *if_none_match, const char *etag)
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
