/*
 * The decoders on good and malformed answers of every call of
 * docs/openapi.yaml: anything but the described JSON is -EIO.
 */
#include "decode.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_C "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define JWT  "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
#define JWT2 "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"
/* The SHA-256 of each text the tests send: a text must hash to its id. */
#define ID_JWT	 "033f6d14935a222725c64bd06983b67ec6b8faebb811bdfc02102657ce3fae83"
#define ID_JWT2	 "3307779f73d3b3f2e6f06f12e6ce83e9616851afa1c6b499345ffab591a33ced"
#define ID_ABC	 "845e30448809e2bc8958eb025bfc795235d13b077a53d0c3abbd2385170dc9b8"
#define ID_T	 "e3b98a4da31a127d4bde6e43033f66ba274cab0eb7eb1c70ec41402bf6273dd8"
#define ID_SLASH "c14cddc033f64b9dea80ea675cf280a015e672516090a5626781153dc68fea11"

/* What the listing decoder handed out, in arrival order. */
struct collected {
	size_t count;
	struct decoded_token tokens[8];
	char texts[8][128];
};

static int collect(void *user, const struct decoded_token *token)
{
	struct collected *collected = user;
	struct decoded_token *copy;

	if (collected->count == 8)
		return -ENOMEM;
	copy = &collected->tokens[collected->count];
	*copy = *token;
	if (token->text != NULL) {
		snprintf(collected->texts[collected->count], sizeof(collected->texts[0]), "%.*s",
			 (int)token->text_length, token->text);
		copy->text = collected->texts[collected->count];
	}
	collected->count++;
	return 0;
}

static int decode_whole_listing(const char *body, size_t length, bool require_text,
				decode_token_fn each, void *user, const char **why)
{
	struct decode_stream stream;
	int error;

	decode_stream_init(&stream, require_text, each, user);
	error = decode_stream_feed(&stream, body, length, why);
	if (error == 0)
		error = decode_stream_finish(&stream, why);
	decode_stream_release(&stream);
	return error;
}

static int list(const char *body, bool require_text, struct collected *collected)
{
	const char *why = NULL;
	int error;

	memset(collected, 0, sizeof(*collected));
	error = decode_whole_listing(body, strlen(body), require_text, collect, collected, &why);
	if (error != 0 && why == NULL)
		fail(body, "no reason given for the failure");
	return error;
}

/* The same body fed in pieces of every size must decode the same way. */
static int list_in_pieces(const char *body, size_t piece, bool require_text,
			  struct collected *collected)
{
	struct decode_stream stream;
	size_t length = strlen(body);
	const char *why = NULL;
	int error = 0;

	memset(collected, 0, sizeof(*collected));
	decode_stream_init(&stream, require_text, collect, collected);
	for (size_t at = 0; at < length && error == 0; at += piece)
		error = decode_stream_feed(&stream, body + at,
					   length - at < piece ? length - at : piece, &why);
	if (error == 0)
		error = decode_stream_finish(&stream, &why);
	decode_stream_release(&stream);
	return error;
}

static void expect_list_rejected(const char *rule, const char *body, bool require_text)
{
	struct collected collected;

	if (list(body, require_text, &collected) != -EIO)
		fail(rule, "listing accepted");
	for (size_t piece = 1; piece < 8; piece++)
		if (list_in_pieces(body, piece, require_text, &collected) != -EIO)
			fail(rule, "listing accepted when fed in pieces");
}

static void expect_token_rejected(const char *rule, const char *body)
{
	struct decoded_token token;
	json_t *root = NULL;
	const char *why = NULL;

	if (decode_token(body, strlen(body), &token, &root, &why) != -EIO) {
		fail(rule, "token accepted");
		json_decref(root);
	} else if (why == NULL) {
		fail(rule, "no reason given for the failure");
	}
}

static void test_listing_is_decoded(void)
{
	struct collected collected;
	const char *body = "{\"tokens\": ["
			   "{\"id\": \"" ID_C "\", \"created\": 30, \"expires\": null},"
			   "{\"id\": \"" ID_A "\", \"created\": 10, \"expires\": 1000},"
			   "{\"id\": \"" ID_B "\", \"created\": 20, \"expires\": 2000}]}";

	if (list(body, false, &collected) != 0 || collected.count != 3) {
		fail("listing", "rejected");
		return;
	}
	if (strcmp(collected.tokens[0].id, ID_C) != 0 ||
	    strcmp(collected.tokens[1].id, ID_A) != 0 || strcmp(collected.tokens[2].id, ID_B) != 0)
		fail("listing", "wrong ids");
	else if (collected.tokens[1].created != 10 || collected.tokens[1].expires != 1000)
		fail("listing", "wrong times");
	else if (collected.tokens[0].expires != 0)
		fail("listing", "\"expires\": null is not 0");
	else if (collected.tokens[0].text != NULL)
		fail("listing", "a text appeared from nowhere");
}

static void test_listing_fed_in_pieces(void)
{
	struct collected collected;
	const char *body = " {\"other\": [1, {\"a\": \"]}\\\"[{\"}], \"tokens\" : [ "
			   "{\"id\": \"" ID_JWT "\", \"created\": 10, \"expires\": 20, "
			   "\"token\": \"" JWT "\", \"note\": \"}\\\"{\"} ,\n"
			   "{\"id\": \"" ID_JWT2 "\", \"created\": 11, \"expires\": null, "
			   "\"token\": \"" JWT2 "\"}\t], \"next\": null}\n";

	for (size_t piece = 1; piece <= strlen(body); piece++) {
		if (list_in_pieces(body, piece, true, &collected) != 0 || collected.count != 2 ||
		    strcmp(collected.tokens[1].id, ID_JWT2) != 0 ||
		    strcmp(collected.texts[0], JWT) != 0) {
			fail("listing fed in pieces", "wrong result");
			return;
		}
	}
}

static void expect_listed(const char *rule, const char *token_object, int64_t created,
			  const char *text)
{
	struct collected collected;
	char body[1024];

	snprintf(body, sizeof(body), "{\"tokens\": [%s]}", token_object);
	if (list(body, false, &collected) != 0 || collected.count != 1)
		fail(rule, "rejected");
	else if (collected.tokens[0].created != created)
		fail(rule, "wrong created");
	else if (text != NULL && strcmp(collected.texts[0], text) != 0)
		fail(rule, "wrong text");
}

/* Token objects in every form JSON allows, plain or not, decode alike. */
static void test_token_objects_in_any_valid_form(void)
{
	expect_listed("keys in another order",
		      "{\"expires\": null, \"token\": \"a.b.c\", \"created\": 5, "
		      "\"id\": \"" ID_ABC "\"}",
		      5, "a.b.c");
	expect_listed("no blanks",
		      "{\"id\":\"" ID_T "\",\"created\":0,\"expires\":7,\"token\":\"t\"}", 0, "t");
	expect_listed("blanks everywhere",
		      "\n{ \"id\" :\t\"" ID_A "\" ,\r\n \"created\" : 12 , \"expires\" : "
		      "null }\n",
		      12, NULL);
	expect_listed("an escaped text",
		      "{\"id\": \"" ID_SLASH "\", \"created\": 1, "
		      "\"expires\": 2, \"token\": \"a\\/b\"}",
		      1, "a/b");
	expect_listed("a key the spec does not name",
		      "{\"id\": \"" ID_A "\", \"created\": 1, \"expires\": 2, "
		      "\"note\": \"caf\u00e9 \u00e9\"}",
		      1, NULL);
	expect_listed("19 digits",
		      "{\"id\": \"" ID_A "\", \"created\": 1234567890123456789, "
		      "\"expires\": null}",
		      1234567890123456789LL, NULL);
}

static void test_empty_listing(void)
{
	struct collected collected;

	if (list("{\"tokens\": []}", false, &collected) != 0 || collected.count != 0)
		fail("empty listing", "rejected");
}

static void test_listing_with_texts(void)
{
	struct collected collected;
	const char *body = "{\"tokens\": [{\"id\": \"" ID_JWT "\", \"created\": 10, "
			   "\"expires\": 20, \"token\": \"" JWT "\"}], \"extra\": 1}";

	if (list(body, true, &collected) != 0 || collected.count != 1) {
		fail("listing with texts", "rejected");
		return;
	}
	if (collected.tokens[0].text_length != strlen(JWT) || strcmp(collected.texts[0], JWT) != 0)
		fail("listing with texts", "wrong text");
}

/* A page of a longer listing names the next page's "after"; the last page and a whole listing do
 * not. */
static void test_page_keeps_its_next(void)
{
	const char *body = "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, "
			   "\"expires\": null}], \"next\": \"" ID_A "\"}";
	struct collected collected;
	struct decode_stream stream;
	const char *why = NULL;

	memset(&collected, 0, sizeof(collected));
	decode_stream_init(&stream, false, collect, &collected);
	if (decode_stream_feed(&stream, body, strlen(body), &why) != 0 ||
	    decode_stream_finish(&stream, &why) != 0 || collected.count != 1)
		fail("a page with next", "rejected");
	else if (strcmp(stream.next, ID_A) != 0)
		fail("a page with next", "next not kept");
	decode_stream_release(&stream);

	body = "{\"tokens\": [], \"next\": null}";
	decode_stream_init(&stream, false, collect, &collected);
	if (decode_stream_feed(&stream, body, strlen(body), &why) != 0 ||
	    decode_stream_finish(&stream, &why) != 0 || stream.next[0] != '\0')
		fail("a listing whose next is null", "next not empty");
	decode_stream_release(&stream);
}

static void test_a_next_that_is_no_token_id_is_eio(void)
{
	expect_list_rejected("next a number", "{\"tokens\": [], \"next\": 1}", false);
	expect_list_rejected("next too short", "{\"tokens\": [], \"next\": \"abc\"}", false);
	expect_list_rejected(
	    "next in capitals",
	    "{\"tokens\": [], \"next\": "
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	    false);
}

static void test_malformed_listings_are_eio(void)
{
	expect_list_rejected("not JSON", "<html>502 Bad Gateway</html>", false);
	expect_list_rejected("cut off", "{\"tokens\": [{\"id\": \"" ID_A "\", \"crea", false);
	expect_list_rejected("empty body", "", false);
	expect_list_rejected("a bare array", "[]", false);
	expect_list_rejected("no tokens", "{}", false);
	expect_list_rejected("tokens not an array", "{\"tokens\": {}}", false);
	expect_list_rejected("an entry not an object", "{\"tokens\": [\"" ID_A "\"]}", false);
	expect_list_rejected("missing id", "{\"tokens\": [{\"created\": 1, \"expires\": 2}]}",
			     false);
	expect_list_rejected("missing created",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"expires\": 2}]}", false);
	expect_list_rejected("missing expires",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1}]}", false);
	expect_list_rejected("created as a string",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": \"1\", "
			     "\"expires\": 2}]}",
			     false);
	expect_list_rejected("created as a real",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1.5, "
			     "\"expires\": 2}]}",
			     false);
	expect_list_rejected("created with a leading zero",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 01, "
			     "\"expires\": 2}]}",
			     false);
	expect_list_rejected("created with an exponent",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1e3, "
			     "\"expires\": 2}]}",
			     false);
	expect_list_rejected("created past 64 bits",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": "
			     "99999999999999999999, \"expires\": 2}]}",
			     false);
	expect_list_rejected("expires as a word that starts like null",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, "
			     "\"expires\": nullx}]}",
			     false);
	expect_list_rejected("the text twice",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, "
			     "\"expires\": 2, \"token\": \"a\", \"token\": \"b\"}]}",
			     false);
	expect_list_rejected("created twice",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, "
			     "\"created\": 1, \"expires\": 2}]}",
			     false);
	expect_list_rejected("an empty token object", "{\"tokens\": [{}]}", false);
	expect_list_rejected("a control character in a text",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, "
			     "\"expires\": 2, \"token\": \"a\tb\"}]}",
			     false);
	expect_list_rejected("negative expires",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, "
			     "\"expires\": -2}]}",
			     false);
	expect_list_rejected("id as a number",
			     "{\"tokens\": [{\"id\": 7, \"created\": 1, \"expires\": 2}]}", false);
	expect_list_rejected(
	    "id in upper case",
	    "{\"tokens\": [{\"id\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAA\", \"created\": 1, \"expires\": 2}]}",
	    false);
	expect_list_rejected("id too short",
			     "{\"tokens\": [{\"id\": \"abc\", \"created\": 1, \"expires\": 2}]}",
			     false);
	expect_list_rejected("id with a path in it",
			     "{\"tokens\": [{\"id\": \"../aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			     "aaaaaaaaaaaaaaaaaaaaa\", \"created\": 1, \"expires\": 2}]}",
			     false);
	expect_list_rejected("tokens twice", "{\"tokens\": [], \"tokens\": []}", false);
	expect_list_rejected("a duplicated key in a token",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"id\": \"" ID_A "\", "
			     "\"created\": 1, \"expires\": 2}]}",
			     false);
	expect_list_rejected("missing comma",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, \"expires\": 2}"
			     "{\"id\": \"" ID_B "\", \"created\": 1, \"expires\": 2}]}",
			     false);
	expect_list_rejected("trailing comma",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, "
			     "\"expires\": 2},]}",
			     false);
	expect_list_rejected("leading comma", "{\"tokens\": [,]}", false);
	expect_list_rejected("cut off after the array", "{\"tokens\": []", false);
	expect_list_rejected("cut off between tokens",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, "
			     "\"expires\": 2},",
			     false);
	expect_list_rejected("junk after the object", "{\"tokens\": []} x", false);
	expect_list_rejected("a second object", "{\"tokens\": []}{\"tokens\": []}", false);
	expect_list_rejected("tokens nested deeper", "{\"a\": {\"tokens\": []}}", false);
	expect_list_rejected("tokens behind an escaped key",
			     "{\"tok\\u0065ns\": [{\"id\": \"" ID_A "\", \"created\": 1, "
			     "\"expires\": 2}]}",
			     false);
	expect_list_rejected("a bare number", "5", false);
	expect_list_rejected("unbalanced", "}{", false);
	expect_list_rejected(
	    "with_token=1 without a text",
	    "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, \"expires\": 2}]}", true);
	expect_list_rejected("a text that is not a string",
			     "{\"tokens\": [{\"id\": \"" ID_A "\", \"created\": 1, \"expires\": 2, "
			     "\"token\": null}]}",
			     true);
	expect_list_rejected("texts swapped between two ids",
			     "{\"tokens\": [{\"id\": \"" ID_JWT
			     "\", \"created\": 1, \"expires\": 2, "
			     "\"token\": \"" JWT2 "\"}, {\"id\": \"" ID_JWT2 "\", \"created\": 1, "
			     "\"expires\": 2, \"token\": \"" JWT "\"}]}",
			     true);
}

static void test_one_token(void)
{
	struct decoded_token token;
	json_t *root = NULL;
	const char *why = NULL;
	const char *body = "{\"id\": \"" ID_JWT "\", \"token\": \"" JWT "\", \"created\": 100, "
			   "\"expires\": 86500}";

	if (decode_token(body, strlen(body), &token, &root, &why) != 0) {
		fail("one token", why);
		return;
	}
	if (strcmp(token.id, ID_JWT) != 0 || token.created != 100 || token.expires != 86500 ||
	    token.text_length != strlen(JWT) || strcmp(token.text, JWT) != 0)
		fail("one token", "wrong fields");
	json_decref(root);
}

static void test_malformed_tokens_are_eio(void)
{
	expect_token_rejected("not JSON", "Internal Server Error");
	expect_token_rejected("cut off", "{\"id\": \"" ID_B "\", \"token\": \"eyJ");
	expect_token_rejected("missing token",
			      "{\"id\": \"" ID_B "\", \"created\": 1, \"expires\": 2}");
	expect_token_rejected("empty token", "{\"id\": \"" ID_B "\", \"token\": \"\", "
					     "\"created\": 1, \"expires\": 2}");
	expect_token_rejected("token with a newline",
			      "{\"id\": \"" ID_B "\", \"token\": \"a\\nb\", \"created\": 1, "
			      "\"expires\": 2}");
	expect_token_rejected("token with a NUL",
			      "{\"id\": \"" ID_B "\", \"token\": \"a\\u0000b\", \"created\": 1, "
			      "\"expires\": 2}");
	expect_token_rejected("token as a number",
			      "{\"id\": \"" ID_B
			      "\", \"token\": 5, \"created\": 1, \"expires\": 2}");
	expect_token_rejected("bad id", "{\"id\": \"xyz\", \"token\": \"" JWT "\", "
					"\"created\": 1, \"expires\": 2}");
	expect_token_rejected("expires as a boolean",
			      "{\"id\": \"" ID_JWT "\", \"token\": \"" JWT "\", \"created\": 1, "
			      "\"expires\": true}");
	expect_token_rejected("the listing shape", "{\"tokens\": []}");
	expect_token_rejected("a text that another id hashes from",
			      "{\"id\": \"" ID_JWT2 "\", \"token\": \"" JWT "\", \"created\": 1, "
			      "\"expires\": 2}");
}

static void test_error_message(void)
{
	char message[DECODE_ERROR_MESSAGE_MAX];
	const char *body = "{\"error_message\": \"wrong authorization token\"}";
	const char *two_lines = "{\"error_message\": \"first\\nsecond\"}";

	if (decode_error_message(body, strlen(body), message, sizeof(message)) != 0 ||
	    strcmp(message, "wrong authorization token") != 0)
		fail("error_message", message);
	if (decode_error_message(two_lines, strlen(two_lines), message, sizeof(message)) != 0 ||
	    strcmp(message, "first second") != 0)
		fail("error_message stays on one line", message);
	if (decode_error_message(body, strlen(body), message, 6) != 0 ||
	    strcmp(message, "wrong") != 0)
		fail("error_message is cut to the buffer", message);
	if (decode_error_message("<html/>", 7, message, sizeof(message)) != -EIO ||
	    message[0] != '\0')
		fail("error body that is not JSON", message);
	if (decode_error_message("{\"error\": 1}", 12, message, sizeof(message)) != -EIO)
		fail("error body without error_message", message);
	if (decode_error_message(NULL, 0, message, sizeof(message)) != -EIO)
		fail("no error body", message);
}

int main(void)
{
	decode_init();
	test_listing_is_decoded();
	test_listing_fed_in_pieces();
	test_token_objects_in_any_valid_form();
	test_empty_listing();
	test_listing_with_texts();
	test_page_keeps_its_next();
	test_a_next_that_is_no_token_id_is_eio();
	test_malformed_listings_are_eio();
	test_one_token();
	test_malformed_tokens_are_eio();
	test_error_message();
	return harness_result();
}
