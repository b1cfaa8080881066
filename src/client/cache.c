/*
 * The token cache. A sorted array rather than a hash table: a listing
 * arrives whole and is merged in one pass, lookups are a binary search, and
 * 10,000 entries take 0.7 MiB plus their texts (each an exact-size secret
 * buffer). Inserting one token moves the tail: only mkdir and a read of one
 * token without a listing do that.
 *
 * Texts are most of the cache (a 551-byte JWT each), so a JWT's three
 * base64url parts are kept decoded: a quarter less, 1.3 MiB at 10,000
 * tokens. Tokens of one service share their header and much of their
 * payload (issuer, audience, subject, times close to each other), so the
 * bytes that a token's header and payload share at their start and end
 * with those of the client's own token (the reference) are not kept again:
 * a 423-byte text becomes about 350. A text that would not come back byte
 * for byte is kept as it is.
 */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * A packed text starts with its kind: CACHE_TEXT_RAW, then the text; or
 * CACHE_TEXT_JWT, then the character lengths of the three parts (2 bytes
 * each, little-endian), then for the header and the payload how many of
 * their first and of their last bytes are the reference's (1 byte each),
 * then the bytes each part encodes, one after another, without those.
 */
#define CACHE_TEXT_RAW	       0
#define CACHE_TEXT_JWT	       1
#define CACHE_JWT_PARTS	       3
#define CACHE_JWT_SHARED_PARTS 2 /* a signature shares nothing with another */
#define CACHE_JWT_HEADER       (1 + 2 * CACHE_JWT_PARTS + 2 * CACHE_JWT_SHARED_PARTS)
#define CACHE_JWT_PART_MAX     0xffff
#define CACHE_JWT_SHARED_MAX   0xff

/* What the header of a packed JWT says; the signature's prefix and suffix are 0. */
struct cache_jwt_layout {
	size_t characters[CACHE_JWT_PARTS]; /* base64url characters of each part */
	size_t prefix[CACHE_JWT_PARTS];	    /* first bytes that are the reference's */
	size_t suffix[CACHE_JWT_PARTS];	    /* last bytes that are the reference's */
};

static const char cache_base64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int cache_base64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	return c == '_' ? 63 : -1;
}

/* Bytes that n base64url characters (no padding) encode. */
static size_t cache_decoded_size(size_t n)
{
	return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

/* Decodes n characters into out; false for a character or a length no encoder makes. */
static bool cache_base64url_decode(const char *in, size_t n, unsigned char *out)
{
	uint32_t bits = 0;
	int held = 0;

	if (n % 4 == 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		int value = cache_base64url_value(in[i]);

		if (value < 0)
			return false;
		bits = bits << 6 | (uint32_t)value;
		held += 6;
		if (held >= 8) {
			held -= 8;
			*out++ = (unsigned char)(bits >> held);
		}
	}
	return true;
}

/* Encodes bytes given in pieces (a part is the reference's bytes around its own). */
struct cache_encoder {
	uint32_t bits;
	int held;
	char *out;
};

static void cache_encode(struct cache_encoder *encoder, const unsigned char *in, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		encoder->bits = encoder->bits << 8 | in[i];
		encoder->held += 8;
		while (encoder->held >= 6) {
			encoder->held -= 6;
			*encoder->out++ = cache_base64url[(encoder->bits >> encoder->held) & 0x3f];
		}
	}
}

static void cache_encode_finish(struct cache_encoder *encoder)
{
	if (encoder->held > 0)
		*encoder->out++ = cache_base64url[(encoder->bits << (6 - encoder->held)) & 0x3f];
	encoder->held = 0;
}

static void cache_jwt_layout_read(const unsigned char *header, struct cache_jwt_layout *layout)
{
	for (int part = 0; part < CACHE_JWT_PARTS; part++) {
		layout->characters[part] = header[1 + 2 * part] | (size_t)header[2 + 2 * part] << 8;
		layout->prefix[part] = 0;
		layout->suffix[part] = 0;
	}
	for (int part = 0; part < CACHE_JWT_SHARED_PARTS; part++) {
		layout->prefix[part] = header[1 + 2 * CACHE_JWT_PARTS + 2 * part];
		layout->suffix[part] = header[2 + 2 * CACHE_JWT_PARTS + 2 * part];
	}
}

static void cache_jwt_layout_write(const struct cache_jwt_layout *layout, unsigned char *header)
{
	header[0] = CACHE_TEXT_JWT;
	for (int part = 0; part < CACHE_JWT_PARTS; part++) {
		header[1 + 2 * part] = (unsigned char)(layout->characters[part] & 0xff);
		header[2 + 2 * part] = (unsigned char)(layout->characters[part] >> 8);
	}
	for (int part = 0; part < CACHE_JWT_SHARED_PARTS; part++) {
		header[1 + 2 * CACHE_JWT_PARTS + 2 * part] = (unsigned char)layout->prefix[part];
		header[2 + 2 * CACHE_JWT_PARTS + 2 * part] = (unsigned char)layout->suffix[part];
	}
}

/* The bytes of a part that its packed form holds itself. */
static size_t cache_jwt_stored_size(const struct cache_jwt_layout *layout, int part)
{
	return cache_decoded_size(layout->characters[part]) - layout->prefix[part] -
	       layout->suffix[part];
}

/* The size of a packed buffer, from its header. */
static size_t cache_packed_size(const char *packed, size_t text_length)
{
	struct cache_jwt_layout layout;
	size_t size = CACHE_JWT_HEADER;

	if (packed[0] == CACHE_TEXT_RAW)
		return 1 + text_length;
	cache_jwt_layout_read((const unsigned char *)packed, &layout);
	for (int part = 0; part < CACHE_JWT_PARTS; part++)
		size += cache_jwt_stored_size(&layout, part);
	return size;
}

/* The reference's bytes for a part: the reference's header or payload, or none. */
static const unsigned char *cache_reference_part(const struct cache_reference *reference, int part,
						 size_t *length)
{
	if (reference->bytes == NULL || part >= CACHE_JWT_SHARED_PARTS) {
		*length = 0;
		return NULL;
	}
	*length = reference->lengths[part];
	return reference->bytes + (part == 0 ? 0 : reference->lengths[0]);
}

/* Writes the text a packed buffer holds (text_length bytes, then a NUL) into text. */
static void cache_unpack(const struct cache_reference *reference, const char *packed,
			 size_t text_length, char *text)
{
	const unsigned char *stored = (const unsigned char *)packed + CACHE_JWT_HEADER;
	struct cache_jwt_layout layout;
	struct cache_encoder encoder = {.out = text};

	if (packed[0] == CACHE_TEXT_RAW) {
		memcpy(text, packed + 1, text_length);
		text[text_length] = '\0';
		return;
	}
	cache_jwt_layout_read((const unsigned char *)packed, &layout);
	for (int part = 0; part < CACHE_JWT_PARTS; part++) {
		size_t shared_length;
		const unsigned char *shared = cache_reference_part(reference, part, &shared_length);
		size_t size = cache_jwt_stored_size(&layout, part);

		if (part > 0)
			*encoder.out++ = '.';
		cache_encode(&encoder, shared, layout.prefix[part]);
		cache_encode(&encoder, stored, size);
		if (layout.suffix[part] > 0)
			cache_encode(&encoder, shared + shared_length - layout.suffix[part],
				     layout.suffix[part]);
		cache_encode_finish(&encoder);
		stored += size;
	}
	*encoder.out = '\0';
}

/*
 * Decodes a JWT's three parts one after another into bytes (room for length
 * bytes), their character lengths into layout; false if text is not one.
 */
static bool cache_jwt_decode(const char *text, size_t length, struct cache_jwt_layout *layout,
			     unsigned char *bytes)
{
	size_t start = 0;

	for (int part = 0; part < CACHE_JWT_PARTS; part++) {
		const char *dot = memchr(text + start, '.', length - start);
		size_t end = part == CACHE_JWT_PARTS - 1 ? length : dot ? (size_t)(dot - text) : 0;
		size_t n = end - start;

		if (end <= start || n > CACHE_JWT_PART_MAX ||
		    (part == CACHE_JWT_PARTS - 1 && dot != NULL) ||
		    !cache_base64url_decode(text + start, n, bytes))
			return false;
		layout->characters[part] = n;
		layout->prefix[part] = 0;
		layout->suffix[part] = 0;
		bytes += cache_decoded_size(n);
		start = end + 1;
	}
	return true;
}

static size_t cache_shared_limit(size_t a, size_t b)
{
	size_t limit = a < b ? a : b;

	return limit < CACHE_JWT_SHARED_MAX ? limit : CACHE_JWT_SHARED_MAX;
}

/*
 * Packs decoded parts (as cache_jwt_decode() left them) into packed: the
 * header, then each part without what it shares with the reference.
 */
static void cache_jwt_pack(const struct cache_reference *reference, struct cache_jwt_layout *layout,
			   const unsigned char *bytes, unsigned char *packed)
{
	unsigned char *stored = packed + CACHE_JWT_HEADER;

	for (int part = 0; part < CACHE_JWT_PARTS; part++) {
		size_t size = cache_decoded_size(layout->characters[part]);
		size_t shared_length;
		const unsigned char *shared = cache_reference_part(reference, part, &shared_length);
		size_t prefix = 0;
		size_t suffix = 0;
		size_t limit = cache_shared_limit(size, shared_length);

		while (prefix < limit && bytes[prefix] == shared[prefix])
			prefix++;
		limit = cache_shared_limit(size - prefix, shared_length - prefix);
		while (suffix < limit &&
		       bytes[size - 1 - suffix] == shared[shared_length - 1 - suffix])
			suffix++;
		layout->prefix[part] = prefix;
		layout->suffix[part] = suffix;
		memcpy(stored, bytes + prefix, size - prefix - suffix);
		stored += size - prefix - suffix;
		bytes += size;
	}
	cache_jwt_layout_write(layout, packed);
}

/* A secret buffer holding text packed; NULL without memory. */
static char *cache_pack(const struct cache_reference *reference, const char *text, size_t length)
{
	size_t room = length + CACHE_JWT_HEADER + 1;
	unsigned char *bytes = malloc(length + 1);
	char *scratch = malloc(room);
	char *check = malloc(length + 1);
	struct cache_jwt_layout layout;
	char *packed = NULL;
	size_t size;

	if (bytes == NULL || scratch == NULL || check == NULL)
		goto out;
	/* Only a text that unpacks to itself is kept packed (no non-canonical encoding). */
	if (cache_jwt_decode(text, length, &layout, bytes)) {
		cache_jwt_pack(reference, &layout, bytes, (unsigned char *)scratch);
		cache_unpack(reference, scratch, length, check);
		if (memcmp(check, text, length) != 0)
			scratch[0] = CACHE_TEXT_RAW;
	} else {
		scratch[0] = CACHE_TEXT_RAW;
	}
	if (scratch[0] == CACHE_TEXT_RAW)
		memcpy(scratch + 1, text, length);
	size = cache_packed_size(scratch, length);
	packed = malloc(size);
	if (packed != NULL)
		memcpy(packed, scratch, size);
out:
	if (bytes != NULL)
		explicit_bzero(bytes, length + 1);
	if (scratch != NULL)
		explicit_bzero(scratch, room);
	if (check != NULL)
		explicit_bzero(check, length + 1);
	free(bytes);
	free(scratch);
	free(check);
	return packed;
}

void cache_set_reference(struct cache *cache, const char *text, size_t length)
{
	struct cache_reference *reference = &cache->reference;
	unsigned char *bytes = malloc(length + 1);
	struct cache_jwt_layout layout;

	if (bytes == NULL)
		return;
	if (cache_jwt_decode(text, length, &layout, bytes)) {
		reference->lengths[0] = cache_decoded_size(layout.characters[0]);
		reference->lengths[1] = cache_decoded_size(layout.characters[1]);
		reference->bytes = malloc(reference->lengths[0] + reference->lengths[1]);
		if (reference->bytes != NULL)
			memcpy(reference->bytes, bytes,
			       reference->lengths[0] + reference->lengths[1]);
	}
	explicit_bzero(bytes, length + 1);
	free(bytes);
}

static int cache_entry_copy_text(const struct cache *cache, const struct cache_entry *entry,
				 char **text, size_t *length)
{
	*text = malloc((size_t)entry->text_length + 1);
	if (*text == NULL)
		return -ENOMEM;
	cache_unpack(&cache->reference, entry->text, entry->text_length, *text);
	*length = entry->text_length;
	return 0;
}

static void cache_entry_clear(struct cache_entry *entry)
{
	if (entry->text != NULL) {
		explicit_bzero(entry->text, cache_packed_size(entry->text, entry->text_length));
		free(entry->text);
	}
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
	if (cache->reference.bytes != NULL)
		explicit_bzero(cache->reference.bytes,
			       cache->reference.lengths[0] + cache->reference.lengths[1]);
	free(cache->reference.bytes);
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
	size_t needed = cache->removed_count + more;
	size_t capacity = cache->removed_capacity ? cache->removed_capacity : 16;
	char(*removed)[RR_TOKEN_ID_LENGTH + 1];

	if (needed <= cache->removed_capacity)
		return true;
	while (capacity < needed)
		capacity *= 2;
	removed = realloc(cache->removed, capacity * sizeof(*removed));
	if (removed == NULL)
		return false;
	cache->removed = removed;
	cache->removed_capacity = capacity;
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
	size_t capacity = cache->added_capacity ? 2 * cache->added_capacity : 16;
	struct rr_token *added;

	if (cache->added_count >= CACHE_ADDED_MAX)
		return;
	if (cache->added_count == cache->added_capacity) {
		added = realloc(cache->added, capacity * sizeof(*added));
		if (added == NULL)
			return;
		cache->added = added;
		cache->added_capacity = capacity;
	}
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

static void cache_entry_set_text(const struct cache_reference *reference, struct cache_entry *entry,
				 const struct decoded_token *token)
{
	if (entry->text != NULL || token->text == NULL || token->text_length > UINT32_MAX)
		return;
	/* Out of memory only costs a later request for the text. */
	entry->text = cache_pack(reference, token->text, token->text_length);
	if (entry->text != NULL)
		entry->text_length = (uint32_t)token->text_length;
}

static void cache_entry_set(const struct cache_reference *reference, struct cache_entry *entry,
			    const struct decoded_token *token, int64_t now_ms)
{
	entry->created = token->created;
	entry->expires = token->expires;
	entry->verified_ms = now_ms;
	cache_entry_set_text(reference, entry, token);
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
		if (cache->count == cache->capacity) {
			size_t capacity = cache->capacity ? cache->capacity * 2 : 16;
			struct cache_entry *entries =
			    realloc(cache->entries, capacity * sizeof(*entries));

			if (entries == NULL)
				return -ENOMEM;
			cache->entries = entries;
			cache->capacity = capacity;
		}
		memmove(&cache->entries[index + 1], &cache->entries[index],
			(cache->count - index) * sizeof(*cache->entries));
		memset(&cache->entries[index], 0, sizeof(*cache->entries));
		memcpy(cache->entries[index].id, id, TOKEN_ID_BYTES);
		cache->count++;
	}
	cache_entry_set(&cache->reference, &cache->entries[index], token, now_ms);
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
	listing->reference = &cache->reference;
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
	cache_entry_set(listing->reference, entry, token, 0);
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
	const struct cache_reference *reference = listing->reference;

	cache_listing_release(listing);
	listing->expected = expected;
	listing->reference = reference;
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

size_t cache_take_removed(struct cache *cache, char (*ids)[RR_TOKEN_ID_LENGTH + 1], size_t max)
{
	size_t taken = cache->removed_count < max ? cache->removed_count : max;

	if (taken == 0)
		return 0;
	memcpy(ids, cache->removed, taken * sizeof(*ids));
	memmove(cache->removed, cache->removed + taken,
		(cache->removed_count - taken) * sizeof(*cache->removed));
	cache->removed_count -= taken;
	return taken;
}

size_t cache_take_added(struct cache *cache, struct rr_token *tokens, size_t max)
{
	size_t taken = cache->added_count < max ? cache->added_count : max;

	if (taken == 0)
		return 0;
	memcpy(tokens, cache->added, taken * sizeof(*tokens));
	memmove(cache->added, cache->added + taken,
		(cache->added_count - taken) * sizeof(*cache->added));
	cache->added_count -= taken;
	return taken;
}
