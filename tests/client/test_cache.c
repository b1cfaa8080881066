/*
 * The token cache: lookups, listings merged with known texts kept, tokens
 * that left or that a listing showed first queued for the kernel, local changes that win over a
 * listing fetched at the same time, and expiry.
 */
#include "cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define ID_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static struct decoded_token token(const char *id, int64_t expires, const char *text)
{
	struct decoded_token made = {.created = 100, .expires = expires, .text = text};

	memcpy(made.id, id, sizeof(made.id));
	made.text_length = text ? strlen(text) : 0;
	return made;
}

static int replace_changed(struct cache *cache, struct decoded_token *tokens, size_t count,
			   const struct cache_change *changes, size_t change_count, bool *changed)
{
	struct cache_listing listing;
	const char *why = NULL;
	int error = 0;

	cache_listing_init(&listing, cache);
	for (size_t i = 0; i < count && error == 0; i++)
		error = cache_listing_add(&listing, &tokens[i]);
	if (error == 0)
		error = cache_listing_finish(&listing, &why);
	if (error == 0)
		error = cache_replace(cache, &listing, changes, change_count, 1000, changed);
	cache_listing_release(&listing);
	return error;
}

static int replace(struct cache *cache, struct decoded_token *tokens, size_t count,
		   const struct cache_change *changes, size_t change_count)
{
	bool changed;

	return replace_changed(cache, tokens, count, changes, change_count, &changed);
}

static bool is_cached(const struct cache *cache, const char *id)
{
	return cache_find(cache, id, 0, NULL) != CACHE_ABSENT;
}

static bool has_text(const struct cache *cache, const char *id, const char *text)
{
	char *copy;
	size_t length;
	bool same;

	if (cache_copy_text(cache, id, &copy, &length) != 0)
		return false;
	same = length == strlen(text) && strcmp(copy, text) == 0;
	free(copy);
	return same;
}

static size_t take_removed(struct cache *cache, char (*ids)[RR_TOKEN_ID_LENGTH + 1], size_t max)
{
	return cache_take_removed(cache, ids, max);
}

static void test_put_and_lookup(void)
{
	struct cache cache;
	struct decoded_token c = token(ID_C, 0, "text-c");
	struct decoded_token a = token(ID_A, 0, NULL);
	struct decoded_token b = token(ID_B, 500, "text-b");
	struct rr_token tokens[4];
	unsigned char from[TOKEN_ID_BYTES];
	size_t count = 0;

	cache_init(&cache, 10000);
	check("put", cache_put(&cache, &c, 1) == 0 && cache_put(&cache, &a, 1) == 0 &&
			 cache_put(&cache, &b, 1) == 0);
	check("lookup finds each",
	      is_cached(&cache, ID_A) && is_cached(&cache, ID_B) && is_cached(&cache, ID_C));
	check("lookup of an unknown id", !is_cached(&cache, ID_D));
	check("text kept", has_text(&cache, ID_C, "text-c"));
	check("no text yet", cache_copy_text(&cache, ID_A, NULL, NULL) == -ENODATA);
	check("one text missing", cache_missing_texts(&cache) == 1);
	count = cache_copy_tokens(&cache, NULL, tokens, 4);
	check("copy", count == 3);
	check("copy sorted by id", count == 3 && strcmp(tokens[0].id, ID_A) == 0 &&
				       strcmp(tokens[1].id, ID_B) == 0 &&
				       strcmp(tokens[2].id, ID_C) == 0);
	check("copy keeps times",
	      count == 3 && tokens[1].expires == 500 && tokens[1].created == 100);
	check("copy stops at max",
	      cache_copy_tokens(&cache, NULL, tokens, 2) == 2 && strcmp(tokens[1].id, ID_B) == 0);
	token_id_to_bytes(ID_B, from);
	count = cache_copy_tokens(&cache, from, tokens, 4);
	check("copy from an id",
	      count == 2 && strcmp(tokens[0].id, ID_B) == 0 && strcmp(tokens[1].id, ID_C) == 0);
	from[TOKEN_ID_BYTES - 1]++;
	count = cache_copy_tokens(&cache, from, tokens, 4);
	check("copy from between two ids", count == 1 && strcmp(tokens[0].id, ID_C) == 0);
	cache_destroy(&cache);
}

static void test_listing_keeps_texts_and_reports_gone_tokens(void)
{
	struct cache cache;
	struct decoded_token a = token(ID_A, 0, "text-a");
	struct decoded_token b = token(ID_B, 0, "text-b");
	struct decoded_token listed[] = {token(ID_A, 0, NULL), token(ID_C, 0, NULL)};
	char removed[4][RR_TOKEN_ID_LENGTH + 1];

	cache_init(&cache, 10000);
	cache_put(&cache, &a, 1);
	cache_put(&cache, &b, 1);
	check("replace", replace(&cache, listed, 2, NULL, 0) == 0);
	check("listing valid", cache.listing_valid && cache.listing_ms == 1000);
	check("known text kept", has_text(&cache, ID_A, "text-a"));
	check("gone token dropped", !is_cached(&cache, ID_B));
	check("new token added", is_cached(&cache, ID_C));
	check("gone token reported once",
	      take_removed(&cache, removed, 4) == 1 && strcmp(removed[0], ID_B) == 0);
	check("queue emptied", take_removed(&cache, removed, 4) == 0);
	cache_destroy(&cache);
}

static void test_a_listing_reports_tokens_it_shows_first(void)
{
	struct cache cache;
	struct decoded_token first[] = {token(ID_A, 0, NULL)};
	struct decoded_token made = token(ID_B, 0, "text-b");
	struct decoded_token second[] = {token(ID_A, 0, NULL), token(ID_B, 0, NULL),
					 token(ID_C, 700, NULL), token(ID_D, 0, NULL)};
	struct cache_change revoked = {ID_D, false};
	struct rr_token added[4];

	cache_init(&cache, 10000);
	check("first listing", replace(&cache, first, 1, NULL, 0) == 0);
	check("a first listing adds nothing", cache_take_added(&cache, added, 4) == 0);
	/* Made here: the kernel knows it from the mkdir. */
	cache_put(&cache, &made, 1);
	/* Revoked here while the listing was fetched: it never counts as added. */
	check("second listing", replace(&cache, second, 4, &revoked, 1) == 0);
	check("only the token made elsewhere is added",
	      cache_take_added(&cache, added, 4) == 1 && strcmp(added[0].id, ID_C) == 0 &&
		  added[0].created == 100 && added[0].expires == 700);
	check("added queue emptied", cache_take_added(&cache, added, 4) == 0);
	check("listed again, not added again", replace(&cache, second, 4, &revoked, 1) == 0 &&
						   cache_take_added(&cache, added, 4) == 0);
	cache_destroy(&cache);
}

static void test_bulk_listing_fills_texts(void)
{
	struct cache cache;
	struct decoded_token plain[] = {token(ID_A, 0, NULL), token(ID_B, 0, NULL)};
	struct decoded_token bulk[] = {token(ID_A, 0, "text-a"), token(ID_B, 0, "text-b")};

	cache_init(&cache, 10000);
	replace(&cache, plain, 2, NULL, 0);
	check("two texts missing", cache_missing_texts(&cache) == 2);
	replace(&cache, bulk, 2, NULL, 0);
	check("bulk fills texts", has_text(&cache, ID_A, "text-a") &&
				      has_text(&cache, ID_B, "text-b") &&
				      cache_missing_texts(&cache) == 0);
	cache_destroy(&cache);
}

static void test_listing_says_whether_tokens_changed(void)
{
	struct cache cache;
	struct decoded_token first[] = {token(ID_B, 10, NULL), token(ID_A, 0, NULL)};
	struct decoded_token same_with_texts[] = {token(ID_A, 0, "text-a"),
						  token(ID_B, 10, "text-b")};
	struct decoded_token one_more[] = {token(ID_A, 0, NULL), token(ID_B, 10, NULL),
					   token(ID_C, 0, NULL)};
	struct decoded_token one_less[] = {token(ID_A, 0, NULL), token(ID_C, 0, NULL)};
	struct decoded_token new_expiry[] = {token(ID_A, 0, NULL), token(ID_C, 5, NULL)};
	bool changed = false;

	cache_init(&cache, 10000);
	replace_changed(&cache, first, 2, NULL, 0, &changed);
	check("first listing is a change", changed);
	replace_changed(&cache, same_with_texts, 2, NULL, 0, &changed);
	check("same tokens with texts is no change", !changed);
	replace_changed(&cache, one_more, 3, NULL, 0, &changed);
	check("a new token is a change", changed);
	replace_changed(&cache, one_less, 2, NULL, 0, &changed);
	check("a gone token is a change", changed);
	replace_changed(&cache, new_expiry, 2, NULL, 0, &changed);
	check("a new expiry is a change", changed);
	cache_destroy(&cache);
}

static void test_listing_with_a_token_twice_is_eio(void)
{
	struct cache cache;
	struct decoded_token twice[] = {token(ID_A, 0, NULL), token(ID_B, 0, NULL),
					token(ID_A, 0, NULL)};

	cache_init(&cache, 10000);
	check("a token listed twice", replace(&cache, twice, 3, NULL, 0) == -EIO);
	check("cache left alone", cache.count == 0 && !cache.listing_valid);
	cache_destroy(&cache);
}

static void test_local_changes_win_over_a_raced_listing(void)
{
	struct cache cache;
	struct decoded_token made = token(ID_D, 0, "text-d");
	struct decoded_token listed[] = {token(ID_A, 0, NULL), token(ID_B, 0, NULL)};
	struct cache_change changes[2] = {{.created = true}, {.created = false}};
	char removed[4][RR_TOKEN_ID_LENGTH + 1];

	memcpy(changes[0].id, ID_D, sizeof(changes[0].id));
	memcpy(changes[1].id, ID_B, sizeof(changes[1].id));
	cache_init(&cache, 10000);
	/* D was made and B revoked here while a listing that predates both was on its way. */
	cache_put(&cache, &made, 1);
	check("replace", replace(&cache, listed, 2, changes, 2) == 0);
	check("made token kept", has_text(&cache, ID_D, "text-d"));
	check("revoked token not brought back", !is_cached(&cache, ID_B));
	check("other listed token added", is_cached(&cache, ID_A));
	check("nothing reported", take_removed(&cache, removed, 4) == 0);
	cache_destroy(&cache);
}

static void test_expired_tokens_leave_and_are_reported(void)
{
	struct cache cache;
	struct decoded_token soon = token(ID_A, 2000, "text-a");
	struct decoded_token later = token(ID_B, 3000, NULL);
	struct decoded_token never = token(ID_C, 0, NULL);
	char removed[4][RR_TOKEN_ID_LENGTH + 1];

	cache_init(&cache, 10000);
	cache_put(&cache, &soon, 1);
	cache_put(&cache, &later, 1);
	cache_put(&cache, &never, 1);
	check("next expiry", cache.next_expiry == 2000);
	cache_expire(&cache, 1999);
	check("not yet expired", cache.count == 3);
	cache_expire(&cache, 2000);
	check("expired at its expiry", cache.count == 2 && !is_cached(&cache, ID_A));
	check("next expiry moves on", cache.next_expiry == 3000);
	cache_expire(&cache, 1000000);
	check("never expires stays", cache.count == 1 && is_cached(&cache, ID_C));
	check("expired reported in order",
	      take_removed(&cache, removed, 1) == 1 && strcmp(removed[0], ID_A) == 0 &&
		  take_removed(&cache, removed, 4) == 1 && strcmp(removed[0], ID_B) == 0);
	cache_destroy(&cache);
}

static void test_remove(void)
{
	struct cache cache;
	struct decoded_token a = token(ID_A, 0, "text-a");
	struct decoded_token b = token(ID_B, 0, "text-b");
	char removed[4][RR_TOKEN_ID_LENGTH + 1];

	cache_init(&cache, 10000);
	cache_put(&cache, &a, 1);
	cache_put(&cache, &b, 1);
	cache_remove(&cache, ID_A, false);
	check("removed", !is_cached(&cache, ID_A) && cache.count == 1);
	check("a local revoke is not reported", take_removed(&cache, removed, 4) == 0);
	cache_remove(&cache, ID_B, true);
	check("a token found gone is reported", take_removed(&cache, removed, 4) == 1);
	cache_remove(&cache, ID_C, true);
	check("removing an unknown id does nothing", take_removed(&cache, removed, 4) == 0);
	cache_destroy(&cache);
}

/* Ids "%064x" of n, with a text "t<n>" for odd n. */
static struct decoded_token numbered(unsigned n, char (*id)[RR_TOKEN_ID_LENGTH + 1],
				     char (*text)[16])
{
	snprintf(*id, sizeof(*id), "%064x", n);
	snprintf(*text, sizeof(*text), "t%u", n);
	return token(*id, 0, n % 2 ? *text : NULL);
}

static bool in(const unsigned *set, size_t count, unsigned n)
{
	for (size_t i = 0; i < count; i++)
		if (set[i] == n)
			return true;
	return false;
}

/* Random caches, listings and local changes against what cache_replace promises. */
static void test_replace_keeps_its_promises(void)
{
	unsigned seed = 1;
	bool ok = true;

	for (int round = 0; round < 300 && ok; round++) {
		struct cache cache;
		unsigned cached[40], listed[40];
		size_t cached_count = 0, listed_count = 0;
		struct decoded_token listing[40];
		char ids[40][RR_TOKEN_ID_LENGTH + 1], texts[40][16];
		char id[RR_TOKEN_ID_LENGTH + 1], text[16];
		struct cache_change changes[4];
		char removed[64][RR_TOKEN_ID_LENGTH + 1];
		size_t removed_count;
		bool reported[64] = {false};

		cache_init(&cache, 10000);
		for (unsigned n = 0; n < 40; n++) {
			if (rand_r(&seed) % 2) {
				struct decoded_token made = numbered(n, &id, &text);

				cache_put(&cache, &made, 1);
				cached[cached_count++] = n;
			}
			if (rand_r(&seed) % 2) {
				listed[listed_count] = n;
				listing[listed_count] =
				    numbered(n, &ids[listed_count], &texts[listed_count]);
				listing[listed_count].text = NULL;
				listed_count++;
			}
		}
		for (int i = 0; i < 4; i++) {
			snprintf(changes[i].id, sizeof(changes[i].id), "%064x",
				 (unsigned)rand_r(&seed) % 40);
			changes[i].created = i < 2;
		}
		/* Made here meanwhile: in the cache already, as rr_client_token_create does. */
		for (int i = 0; i < 2; i++) {
			unsigned n = (unsigned)strtoul(changes[i].id + 56, NULL, 16);
			struct decoded_token made = numbered(n, &id, &text);

			cache_put(&cache, &made, 1);
			if (!in(cached, cached_count, n))
				cached[cached_count++] = n;
		}
		ok = replace(&cache, listing, listed_count, changes, 4) == 0;
		removed_count = cache_take_removed(&cache, removed, 64);
		for (size_t i = 0; i < removed_count; i++)
			reported[strtoul(removed[i] + 56, NULL, 16)] = true;
		for (unsigned n = 0; n < 40 && ok; n++) {
			bool present;
			bool made = false;
			bool revoked = false;

			/* The latest change of an id counts. */
			for (int i = 0; i < 4; i++) {
				if (strtoul(changes[i].id + 56, NULL, 16) == n) {
					made = changes[i].created;
					revoked = !changes[i].created;
				}
			}
			snprintf(id, sizeof(id), "%064x", n);
			snprintf(text, sizeof(text), "t%u", n);
			present = is_cached(&cache, id);
			if (in(listed, listed_count, n))
				ok = present == !revoked;
			else if (in(cached, cached_count, n))
				ok = present == made;
			else
				ok = !present;
			if (ok && present && in(cached, cached_count, n) && n % 2)
				ok = has_text(&cache, id, text);
			if (ok)
				ok = reported[n] == (in(cached, cached_count, n) &&
						     !in(listed, listed_count, n) && !made);
			if (!ok)
				fprintf(stderr,
					"token %u: listed %d cached %d made %d revoked %d "
					"present %d reported %d\n",
					n, in(listed, listed_count, n), in(cached, cached_count, n),
					made, revoked, present, reported[n]);
		}
		for (size_t i = 1; ok && i < cache.count; i++)
			ok = memcmp(cache.entries[i - 1].id, cache.entries[i].id, TOKEN_ID_BYTES) <
			     0;
		if (!ok)
			fprintf(stderr, "round %d\n", round);
		cache_destroy(&cache);
	}
	check("replace keeps its promises on random listings", ok);
}

static void test_many_tokens(void)
{
	struct cache cache;
	struct decoded_token made;
	char id[RR_TOKEN_ID_LENGTH + 1];
	bool all_found = true;

	cache_init(&cache, 10000);
	for (int i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "%064x", (unsigned)(i * 7919 % 10007));
		made = token(id, 0, NULL);
		cache_put(&cache, &made, 1);
	}
	check("10,000 tokens", cache.count == 10000);
	for (int i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "%064x", (unsigned)(i * 7919 % 10007));
		all_found = all_found && is_cached(&cache, id);
	}
	check("each found", all_found);
	for (size_t i = 1; i < cache.count; i++)
		all_found = all_found && memcmp(cache.entries[i - 1].id, cache.entries[i].id,
						TOKEN_ID_BYTES) < 0;
	check("kept sorted", all_found);
	cache_destroy(&cache);
}

/* The version the kernel's copy of the root listing is checked against moves with every change. */
static void test_version_moves_with_every_change(void)
{
	struct cache cache;
	struct decoded_token a = token(ID_A, 0, NULL);
	struct decoded_token b = token(ID_B, 50, NULL);
	uint64_t version;

	cache_init(&cache, 10000);
	version = cache.version;
	cache_put(&cache, &a, 1);
	check("a put moves the version", cache.version != version);
	version = cache.version;
	check("replace", replace(&cache, &a, 1, NULL, 0) == 0);
	check("a listing confirmed again moves the version", cache.version != version);
	cache_put(&cache, &b, 1);
	version = cache.version;
	cache_expire(&cache, 10);
	check("nothing expired, same version", cache.version == version);
	cache_expire(&cache, 50);
	check("an expiry moves the version", cache.version != version);
	version = cache.version;
	cache_remove(&cache, ID_C, false);
	check("removing an unknown id keeps the version", cache.version == version);
	cache_remove(&cache, ID_A, false);
	check("a removal moves the version", cache.version != version);
	cache_destroy(&cache);
}

/* A text put comes back as it was given (jwtpack.c's own tests try every shape of text). */
static void test_texts_come_back_exactly(void)
{
	static const char *const texts[] = {"AAAA.BBBBBB.CCCCCCC", "no jwt at all"};
	struct cache cache;

	cache_init(&cache, 10000);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct decoded_token made = token(ID_A, 0, texts[i]);

		cache_remove(&cache, ID_A, false);
		check("put", cache_put(&cache, &made, 1) == 0);
		check(texts[i], has_text(&cache, ID_A, texts[i]));
	}
	cache_destroy(&cache);
}

/* A listing holds for the ttl after the API confirmed it, and as long as the server asked quiet. */
static void test_listing_freshness(void)
{
	struct cache cache;
	struct decoded_token listed[] = {token(ID_A, 0, NULL)};
	char etag[CACHE_ETAG_MAX];

	cache_init(&cache, 10000);
	check("no listing: not fresh", !cache_has_listing(&cache) && !cache_is_fresh(&cache, 0));
	check("no listing: no ETag to send", !cache_etag(&cache, etag));
	replace(&cache, listed, 1, NULL, 0);
	check("a listing holds for the ttl",
	      cache_has_listing(&cache) && cache_is_fresh(&cache, 1000 + 9999));
	check("and no longer", !cache_is_fresh(&cache, 1000 + 10000));
	cache_confirm(&cache, 20000);
	check("a confirmation holds for another ttl", cache_is_fresh(&cache, 29999));
	cache_quiet_until(&cache, 50000);
	check("quiet keeps it holding", cache_is_fresh(&cache, 49999));
	cache_quiet_until(&cache, 40000);
	check("an earlier quiet does not shorten it", cache_is_fresh(&cache, 49999));
	check("quiet ends", !cache_is_fresh(&cache, 50000));
	cache_set_etag(&cache, "\"v1\"");
	check("the ETag kept", cache_etag(&cache, etag) && strcmp(etag, "\"v1\"") == 0);
	cache_set_etag(&cache, "");
	check("the ETag forgotten", !cache_etag(&cache, etag));
	cache_destroy(&cache);
}

/* A token read alone holds for the ttl after it was read. */
static void test_token_freshness(void)
{
	struct cache cache;
	struct decoded_token a = token(ID_A, 0, NULL);
	struct rr_token found;

	cache_init(&cache, 10000);
	check("absent",
	      cache_find(&cache, ID_A, 0, &found) == CACHE_ABSENT && !cache_contains(&cache, ID_A));
	cache_put(&cache, &a, 5000);
	check("fresh within the ttl", cache_find(&cache, ID_A, 14999, &found) == CACHE_FRESH &&
					  strcmp(found.id, ID_A) == 0 && found.created == 100);
	check("stale after it",
	      cache_find(&cache, ID_A, 15000, NULL) == CACHE_STALE && cache_contains(&cache, ID_A));
	check("no text yet", cache_copy_text(&cache, ID_A, NULL, NULL) == -ENODATA);
	check("unknown id", cache_copy_text(&cache, ID_B, NULL, NULL) == -ENOENT);
	cache_destroy(&cache);
}

int main(void)
{
	test_listing_freshness();
	test_token_freshness();
	test_texts_come_back_exactly();
	test_version_moves_with_every_change();
	test_put_and_lookup();
	test_listing_keeps_texts_and_reports_gone_tokens();
	test_a_listing_reports_tokens_it_shows_first();
	test_bulk_listing_fills_texts();
	test_listing_says_whether_tokens_changed();
	test_listing_with_a_token_twice_is_eio();
	test_local_changes_win_over_a_raced_listing();
	test_expired_tokens_leave_and_are_reported();
	test_remove();
	test_replace_keeps_its_promises();
	test_many_tokens();
	return harness_result();
}
