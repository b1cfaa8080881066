/*
 * The token cache. A sorted array rather than a hash table: a listing
 * arrives whole and is merged in one pass, lookups are a binary search, and
 * 10,000 entries take 0.7 MiB plus their texts (each an exact-size secret
 * buffer). Inserting one token moves the tail: only mkdir and a read of one
 * token without a listing do that.
 *
 * Texts are most of the cache; each is kept packed (jwtpack.h), about 420
 * bytes for a 556-byte JWT.
 *
 * A little over 600 lines, kept whole: the merge of a listing (cache_replace)
 * is half of it and must see every field of the entries and both queues.
 */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "jwtpack.h"
#include "secret.h"

/* Changes nobody collects stop being queued here, so the queues cannot grow without end. */
#define CACHE_REMOVED_MAX 100000
#define CACHE_ADDED_MAX	  100000

void cache_init(struct cache *cache, int64_t ttl_ms)
{
	memset(cache, 0, sizeof(*cache));
	cache->ttl_ms = ttl_ms;
	cache->next_expiry = INT64_MAX;
}

/* The one place the version moves: the driver compares it to know its copy of the root is old. */
static void cache_changed(struct cache *cache)
{
	cache->version++;
}

bool cache_has_listing(const struct cache *cache)
{
	return cache->listing_valid;
}

/* Whether a confirmation at confirmed_ms still holds at now_ms. */
static bool cache_holds(const struct cache *cache, int64_t confirmed_ms, int64_t now_ms)
{
	return now_ms - confirmed_ms < cache->ttl_ms || now_ms < cache->quiet_until_ms;
}

bool cache_is_fresh(const struct cache *cache, int64_t now_ms)
{
	return cache->listing_valid && cache_holds(cache, cache->listing_ms, now_ms);
}

void cache_confirm(struct cache *cache, int64_t now_ms)
{
	cache->listing_ms = now_ms;
	cache_changed(cache);
}

void cache_quiet_until(struct cache *cache, int64_t until_ms)
{
	if (until_ms > cache->quiet_until_ms)
		cache->quiet_until_ms = until_ms;
}

bool cache_etag(const struct cache *cache, char *etag)
{
	if (!cache->listing_valid || cache->etag[0] == '\0')
		return false;
	memcpy(etag, cache->etag, sizeof(cache->etag));
	return true;
}

void cache_set_etag(struct cache *cache, const char *etag)
{
	size_t length = strlen(etag);

	if (length < sizeof(cache->etag))
		memcpy(cache->etag, etag, length + 1);
	else
		cache->etag[0] = '\0';
}

uint64_t cache_version(const struct cache *cache)
{
	return cache->version;
}

static int cache_entry_copy_text(const struct cache *cache, const struct cache_entry *entry,
				 char **text, size_t *length)
{
	*text = malloc((size_t)entry->text_length + 1);
	if (*text == NULL)
		return -ENOMEM;
	jwtpack_unpack(entry->text, entry->text_length, *text);
	*length = entry->text_length;
	return 0;
}

static void cache_entry_clear(struct cache_entry *entry)
{
	secret_free(entry->text);
	entry->text = NULL;
	entry->text_length = 0;
}

void cache_destroy(struct cache *cache)
{
	for (size_t i = 0; i < cache->count; i++)
		cache_entry_clear(&cache->entries[i]);
	free(cache->entries);
	free(cache->removed);
	free(cache->added);
	cache_init(cache, cache->ttl_ms);
}

/* The index of id (in bytes), or of where it would be inserted; *found says which. */
static size_t cache_search(const struct cache *cache, const unsigned char *id, bool *found)
{
	size_t low = 0;
	size_t high = cache->count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;
		int order = memcmp(cache->entries[middle].id, id, TOKEN_ID_BYTES);

		if (order == 0) {
			*found = true;
			return middle;
		}
		if (order < 0)
			low = middle + 1;
		else
			high = middle;
	}
	*found = false;
	return low;
}

/* The entry of id, or NULL. */
static struct cache_entry *cache_lookup(const struct cache *cache, const char *id)
{
	unsigned char bytes[TOKEN_ID_BYTES];
	bool found;
	size_t index;

	if (!token_id_to_bytes(id, bytes))
		return NULL;
	index = cache_search(cache, bytes, &found);
	return found ? &cache->entries[index] : NULL;
}

static void cache_token_from_entry(const struct cache_entry *entry, struct rr_token *token)
{
	token_id_from_bytes(entry->id, token->id);
	token->created = entry->created;
	token->expires = entry->expires;
	token->text_length = entry->text == NULL ? 0 : entry->text_length;
}

enum cache_state cache_find(const struct cache *cache, const char *id, int64_t now_ms,
			    struct rr_token *token)
{
	const struct cache_entry *entry = cache_lookup(cache, id);

	if (entry == NULL)
		return CACHE_ABSENT;
	if (token != NULL)
		cache_token_from_entry(entry, token);
	return cache_holds(cache, entry->verified_ms, now_ms) ? CACHE_FRESH : CACHE_STALE;
}

bool cache_contains(const struct cache *cache, const char *id)
{
	return cache_lookup(cache, id) != NULL;
}

int cache_copy_text(const struct cache *cache, const char *id, char **text, size_t *length)
{
	const struct cache_entry *entry = cache_lookup(cache, id);

	if (entry == NULL)
		return -ENOENT;
	if (entry->text == NULL)
		return -ENODATA;
	return cache_entry_copy_text(cache, entry, text, length);
}

static bool cache_reserve_removed(struct cache *cache, size_t more)
{
	char(*removed)[RR_TOKEN_ID_LENGTH + 1] =
	    grow_array(cache->removed, &cache->removed_capacity, cache->removed_count + more,
		       sizeof(*removed), 16);

	if (removed == NULL)
		return false;
	cache->removed = removed;
	return true;
}

static void cache_report_removed(struct cache *cache, const unsigned char *id)
{
	if (cache->removed_count >= CACHE_REMOVED_MAX || !cache_reserve_removed(cache, 1))
		return;
	token_id_from_bytes(id, cache->removed[cache->removed_count++]);
}

void cache_report_gone(struct cache *cache, const char *id)
{
	unsigned char bytes[TOKEN_ID_BYTES];

	if (token_id_to_bytes(id, bytes))
		cache_report_removed(cache, bytes);
}

/* Queues a token as added; without room the kernel just learns of it later, from a listing. */
static void cache_report_added(struct cache *cache, const struct cache_entry *entry)
{
	struct rr_token *added;

	if (cache->added_count >= CACHE_ADDED_MAX)
		return;
	added = grow_array(cache->added, &cache->added_capacity, cache->added_count + 1,
			   sizeof(*added), 16);
	if (added == NULL)
		return;
	cache->added = added;
	cache_token_from_entry(entry, &cache->added[cache->added_count++]);
}

static void cache_update_next_expiry(struct cache *cache)
{
	cache->next_expiry = INT64_MAX;
	for (size_t i = 0; i < cache->count; i++)
		if (cache->entries[i].expires != 0 &&
		    cache->entries[i].expires < cache->next_expiry)
			cache->next_expiry = cache->entries[i].expires;
}

static void cache_entry_set_text(struct cache_entry *entry, const struct decoded_token *token)
{
	if (entry->text != NULL || token->text == NULL || token->text_length > UINT32_MAX)
		return;
	/* Out of memory only costs a later request for the text. */
	entry->text = jwtpack_pack(token->text, token->text_length);
	if (entry->text != NULL)
		entry->text_length = (uint32_t)token->text_length;
}

static void cache_entry_set(struct cache_entry *entry, const struct decoded_token *token,
			    int64_t now_ms)
{
	entry->created = token->created;
	entry->expires = token->expires;
	entry->verified_ms = now_ms;
	cache_entry_set_text(entry, token);
}

int cache_put(struct cache *cache, const struct decoded_token *token, int64_t now_ms)
{
	unsigned char id[TOKEN_ID_BYTES];
	bool found;
	size_t index;

	if (!token_id_to_bytes(token->id, id))
		return -EIO;
	index = cache_search(cache, id, &found);
	if (!found) {
		struct cache_entry *entries = grow_array(cache->entries, &cache->capacity,
							 cache->count + 1, sizeof(*entries), 16);

		if (entries == NULL)
			return -ENOMEM;
		cache->entries = entries;
		memmove(&cache->entries[index + 1], &cache->entries[index],
			(cache->count - index) * sizeof(*cache->entries));
		memset(&cache->entries[index], 0, sizeof(*cache->entries));
		memcpy(cache->entries[index].id, id, TOKEN_ID_BYTES);
		cache->count++;
	}
	cache_entry_set(&cache->entries[index], token, now_ms);
	cache_changed(cache);
	if (token->expires != 0 && token->expires < cache->next_expiry)
		cache->next_expiry = token->expires;
	return 0;
}

void cache_remove(struct cache *cache, const char *id, bool report)
{
	unsigned char bytes[TOKEN_ID_BYTES];
	bool found;
	size_t index;

	if (!token_id_to_bytes(id, bytes))
		return;
	index = cache_search(cache, bytes, &found);
	if (!found)
		return;
	if (report)
		cache_report_removed(cache, bytes);
	cache_entry_clear(&cache->entries[index]);
	memmove(&cache->entries[index], &cache->entries[index + 1],
		(cache->count - index - 1) * sizeof(*cache->entries));
	cache->count--;
	cache_changed(cache);
}

/* The latest local change of id: a token made and revoked during one fetch counts as revoked. */
static const struct cache_change *cache_find_change(const struct cache_change *changes,
						    size_t change_count, const unsigned char *id)
{
	unsigned char change_id[TOKEN_ID_BYTES];

	for (size_t i = change_count; i > 0; i--)
		if (token_id_to_bytes(changes[i - 1].id, change_id) &&
		    memcmp(change_id, id, TOKEN_ID_BYTES) == 0)
			return &changes[i - 1];
	return NULL;
}

/* An entry the cache has and the listing lacks stays only if it was made here meanwhile. */
static bool cache_keeps_unlisted(const struct cache_change *changes, size_t change_count,
				 const unsigned char *id)
{
	const struct cache_change *change = cache_find_change(changes, change_count, id);

	return change != NULL && change->created;
}

/* A listed token the cache lacks is added unless it was revoked here meanwhile. */
static bool cache_takes_listed(const struct cache_change *changes, size_t change_count,
			       const unsigned char *id)
{
	const struct cache_change *change = cache_find_change(changes, change_count, id);

	return change == NULL || change->created;
}

void cache_listing_init(struct cache_listing *listing, const struct cache *cache)
{
	memset(listing, 0, sizeof(*listing));
	listing->expected = cache->count;
}

/*
 * Room for the tokens the listing is expected to have and a few more, so
 * that a listing of as many tokens as the cache holds is one block the
 * size of the cache's, not a doubled one.
 */
static size_t cache_listing_next_capacity(const struct cache_listing *listing)
{
	if (listing->capacity == 0)
		return listing->expected + listing->expected / 16 + 64;
	return listing->capacity + listing->capacity / 2;
}

int cache_listing_add(struct cache_listing *listing, const struct decoded_token *token)
{
	struct cache_entry *entry;

	if (listing->count == listing->capacity) {
		size_t capacity = cache_listing_next_capacity(listing);
		struct cache_entry *entries =
		    realloc(listing->entries, capacity * sizeof(*entries));

		if (entries == NULL)
			return -ENOMEM;
		listing->entries = entries;
		listing->capacity = capacity;
	}
	entry = &listing->entries[listing->count];
	memset(entry, 0, sizeof(*entry));
	if (!token_id_to_bytes(token->id, entry->id))
		return -EIO;
	cache_entry_set(entry, token, 0);
	if (token->text != NULL && entry->text == NULL)
		return -ENOMEM;
	listing->count++;
	return 0;
}

static int cache_compare_entries(const void *a, const void *b)
{
	const struct cache_entry *left = a;
	const struct cache_entry *right = b;

	return memcmp(left->id, right->id, TOKEN_ID_BYTES);
}

int cache_listing_finish(struct cache_listing *listing, const char **why)
{
	struct cache_entry *entries;

	if (listing->count > 1)
		qsort(listing->entries, listing->count, sizeof(*listing->entries),
		      cache_compare_entries);
	for (size_t i = 1; i < listing->count; i++) {
		if (cache_compare_entries(&listing->entries[i - 1], &listing->entries[i]) == 0) {
			*why = "a token is listed twice";
			return -EIO;
		}
	}
	/* Shrinking in place; a failure only keeps the room. */
	if (listing->count > 0 && listing->count < listing->capacity) {
		entries = realloc(listing->entries, listing->count * sizeof(*entries));
		if (entries != NULL) {
			listing->entries = entries;
			listing->capacity = listing->count;
		}
	}
	return 0;
}

void cache_listing_release(struct cache_listing *listing)
{
	for (size_t i = 0; i < listing->count; i++)
		cache_entry_clear(&listing->entries[i]);
	free(listing->entries);
	memset(listing, 0, sizeof(*listing));
}

void cache_listing_clear(struct cache_listing *listing)
{
	size_t expected = listing->expected;

	cache_listing_release(listing);
	listing->expected = expected;
}

/* Walks the cache and a sorted listing side by side: <0 cached only, 0 both, >0 listed only. */
static int cache_merge_order(const struct cache *cache, size_t cached,
			     const struct cache_listing *listing, size_t listed,
			     size_t listed_count)
{
	if (cached == cache->count)
		return 1;
	if (listed == listed_count)
		return -1;
	return memcmp(cache->entries[cached].id, listing->entries[listed].id, TOKEN_ID_BYTES);
}

/*
 * Keeps a listed entry, moved down to index *count, unless it was revoked
 * here while the listing was on its way.
 */
static void cache_keep_listed(struct cache_listing *listing, struct cache_entry *listed_entry,
			      size_t *count, const struct cache_change *changes,
			      size_t change_count, int64_t now_ms)
{
	if (!cache_takes_listed(changes, change_count, listed_entry->id)) {
		cache_entry_clear(listed_entry);
		return;
	}
	listed_entry->verified_ms = now_ms;
	listing->entries[(*count)++] = *listed_entry;
}

int cache_replace(struct cache *cache, struct cache_listing *listing,
		  const struct cache_change *changes, size_t change_count, int64_t now_ms,
		  bool *changed)
{
	size_t listed_count = listing->count;
	/* The first listing shows what was there all along: nothing was added. */
	bool report_added = cache->listing_valid;
	size_t cached = 0;
	size_t listed = 0;
	size_t gone = 0;
	size_t kept = 0;
	size_t count = 0;

	/* First pass: what goes and what stays, so that the merge below cannot fail. */
	while (cached < cache->count || listed < listed_count) {
		int order = cache_merge_order(cache, cached, listing, listed, listed_count);

		if (order < 0 &&
		    cache_keeps_unlisted(changes, change_count, cache->entries[cached].id))
			kept++;
		else if (order < 0)
			gone++;
		if (order <= 0)
			cached++;
		if (order >= 0)
			listed++;
	}
	if (listed_count + kept > listing->capacity) {
		struct cache_entry *entries =
		    realloc(listing->entries, (listed_count + kept) * sizeof(*entries));

		if (entries == NULL)
			return -ENOMEM;
		listing->entries = entries;
		listing->capacity = listed_count + kept;
	}
	if (gone > 0 && cache->removed_count + gone <= CACHE_REMOVED_MAX &&
	    !cache_reserve_removed(cache, gone))
		return -ENOMEM;

	/*
	 * Second pass: texts move into the listing, whose entries move down over
	 * the ones revoked here meanwhile; kept entries go after it, gone ones go.
	 */
	*changed = false;
	cached = 0;
	listed = 0;
	while (cached < cache->count || listed < listed_count) {
		int order = cache_merge_order(cache, cached, listing, listed, listed_count);

		if (order == 0) {
			struct cache_entry *cached_entry = &cache->entries[cached++];
			struct cache_entry *listed_entry = &listing->entries[listed++];

			if (cached_entry->created != listed_entry->created ||
			    cached_entry->expires != listed_entry->expires)
				*changed = true;
			if (listed_entry->text == NULL) {
				listed_entry->text = cached_entry->text;
				listed_entry->text_length = cached_entry->text_length;
				cached_entry->text = NULL;
			}
			cache_entry_clear(cached_entry);
			cache_keep_listed(listing, listed_entry, &count, changes, change_count,
					  now_ms);
		} else if (order < 0) {
			struct cache_entry *cached_entry = &cache->entries[cached++];

			*changed = true;
			if (cache_keeps_unlisted(changes, change_count, cached_entry->id)) {
				listing->entries[listing->count++] = *cached_entry;
			} else {
				cache_report_removed(cache, cached_entry->id);
				cache_entry_clear(cached_entry);
			}
		} else {
			struct cache_entry *listed_entry = &listing->entries[listed++];
			size_t before = count;

			*changed = true;
			cache_keep_listed(listing, listed_entry, &count, changes, change_count,
					  now_ms);
			if (report_added && count > before)
				cache_report_added(cache, &listing->entries[count - 1]);
		}
	}
	memmove(&listing->entries[count], &listing->entries[listed_count],
		(listing->count - listed_count) * sizeof(*listing->entries));
	listing->count = count + (listing->count - listed_count);
	if (kept > 0)
		qsort(listing->entries, listing->count, sizeof(*listing->entries),
		      cache_compare_entries);

	free(cache->entries);
	cache->entries = listing->entries;
	cache->count = listing->count;
	cache->capacity = listing->capacity;
	memset(listing, 0, sizeof(*listing));
	cache->listing_valid = true;
	cache_confirm(cache, now_ms);
	cache_update_next_expiry(cache);
	return 0;
}

size_t cache_missing_texts(const struct cache *cache)
{
	size_t missing = 0;

	for (size_t i = 0; i < cache->count; i++)
		if (cache->entries[i].text == NULL)
			missing++;
	return missing;
}

void cache_expire(struct cache *cache, int64_t now)
{
	size_t kept = 0;

	if (now < cache->next_expiry)
		return;
	for (size_t i = 0; i < cache->count; i++) {
		struct cache_entry *entry = &cache->entries[i];

		if (entry->expires != 0 && entry->expires <= now) {
			cache_report_removed(cache, entry->id);
			cache_entry_clear(entry);
			continue;
		}
		cache->entries[kept++] = *entry;
	}
	if (kept != cache->count)
		cache_changed(cache);
	cache->count = kept;
	cache_update_next_expiry(cache);
}

size_t cache_copy_tokens(const struct cache *cache, const unsigned char *from,
			 struct rr_token *tokens, size_t max)
{
	size_t first = 0;
	size_t copied;
	bool found;

	if (from != NULL)
		first = cache_search(cache, from, &found);
	for (copied = 0; copied < max && first + copied < cache->count; copied++) {
		cache_token_from_entry(&cache->entries[first + copied], &tokens[copied]);
	}
	return copied;
}

/* Moves at most max items from the front of a queue of *count items into out; returns how many. */
static size_t cache_queue_take(void *queue, size_t *count, size_t item_size, void *out, size_t max)
{
	size_t taken = *count < max ? *count : max;

	if (taken == 0)
		return 0;
	memcpy(out, queue, taken * item_size);
	memmove(queue, (char *)queue + taken * item_size, (*count - taken) * item_size);
	*count -= taken;
	return taken;
}

size_t cache_take_removed(struct cache *cache, char (*ids)[RR_TOKEN_ID_LENGTH + 1], size_t max)
{
	return cache_queue_take(cache->removed, &cache->removed_count, sizeof(*ids), ids, max);
}

size_t cache_take_added(struct cache *cache, struct rr_token *tokens, size_t max)
{
	return cache_queue_take(cache->added, &cache->added_count, sizeof(*tokens), tokens, max);
}
