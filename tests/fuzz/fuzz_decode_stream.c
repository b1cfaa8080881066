/*
 * libFuzzer target: the incremental decoder of GET /tokens, fed in pieces
 * of a size the input chooses. The first byte picks the piece size and
 * whether texts are required; the rest is the body.
 *
 * The decoder has a fast path of its own and splits the array by hand, so
 * the oracle is jansson: whenever the stream accepts a body, jansson must
 * read the same body as {"tokens": [...]} with exactly the tokens, in the
 * order and with the fields, that the stream handed out.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "token_id.h"

#define FUZZ_TOKENS_MAX 64

struct fuzz_seen {
	size_t count;
	bool require_text;
	struct decoded_token tokens[FUZZ_TOKENS_MAX];
	char *texts[FUZZ_TOKENS_MAX];
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_take(void *user, const struct decoded_token *token)
{
	struct fuzz_seen *seen = user;

	if (!token_id_is_valid(token->id) || token->created < 0 || token->expires < 0 ||
	    (seen->require_text && token->text == NULL))
		abort();
	if (seen->count == FUZZ_TOKENS_MAX)
		return -ENOMEM;
	seen->tokens[seen->count] = *token;
	seen->texts[seen->count] = NULL;
	if (token->text != NULL) {
		seen->texts[seen->count] = strndup(token->text, token->text_length);
		if (seen->texts[seen->count] == NULL)
			return -ENOMEM;
	}
	seen->count++;
	return 0;
}

static bool fuzz_same_time(json_t *value, bool null_allowed, int64_t seconds)
{
	if (null_allowed && json_is_null(value))
		return seconds == 0;
	return json_is_integer(value) && json_integer_value(value) == seconds;
}

/* The oracle: jansson's reading of an accepted body. */
static void fuzz_check_with_jansson(const char *body, size_t size, const struct fuzz_seen *seen)
{
	json_error_t error;
	json_t *root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &error);
	json_t *tokens = json_object_get(root, "tokens");

	if (!json_is_object(root) || !json_is_array(tokens) ||
	    json_array_size(tokens) != seen->count)
		abort();
	for (size_t i = 0; i < seen->count; i++) {
		json_t *object = json_array_get(tokens, i);
		json_t *id = json_object_get(object, "id");
		json_t *text = json_object_get(object, "token");

		if (!json_is_string(id) || strcmp(json_string_value(id), seen->tokens[i].id) != 0 ||
		    !fuzz_same_time(json_object_get(object, "created"), false,
				    seen->tokens[i].created) ||
		    !fuzz_same_time(json_object_get(object, "expires"), true,
				    seen->tokens[i].expires))
			abort();
		if ((text == NULL) != (seen->texts[i] == NULL))
			abort();
		if (text != NULL && strcmp(json_string_value(text), seen->texts[i]) != 0)
			abort();
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decode_stream stream;
	struct fuzz_seen seen = {0};
	const char *body = (const char *)data + 1;
	const char *why = NULL;
	size_t piece;
	int error = 0;

	if (size == 0)
		return 0;
	decode_init();
	piece = (data[0] & 0x7f) + 1;
	seen.require_text = (data[0] & 0x80) != 0;
	size--;
	decode_stream_init(&stream, seen.require_text, fuzz_take, &seen);
	for (size_t at = 0; at < size && error == 0; at += piece)
		error = decode_stream_feed(&stream, body + at,
					   size - at < piece ? size - at : piece, &why);
	if (error == 0)
		error = decode_stream_finish(&stream, &why);
	decode_stream_release(&stream);
	if (error == 0)
		fuzz_check_with_jansson(body, size, &seen);
	else if (why == NULL)
		abort();
	for (size_t i = 0; i < seen.count; i++)
		free(seen.texts[i]);
	return 0;
}
