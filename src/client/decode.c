/*
 * Decoding API answers. The decoders trust nothing: a field of the wrong
 * type or an id the filesystem could not show as a directory name would
 * otherwise surface far from here, as a wrong file or a crash.
 */
#include "decode.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "token_id.h"

/* Blocks carry their size in front so that decode_free can wipe them. */
#define DECODE_BLOCK_HEADER alignof(max_align_t)

static void *decode_malloc(size_t size)
{
	unsigned char *block;

	if (size > SIZE_MAX - DECODE_BLOCK_HEADER)
		return NULL;
	block = malloc(DECODE_BLOCK_HEADER + size);
	if (block == NULL)
		return NULL;
	memcpy(block, &size, sizeof(size));
	return block + DECODE_BLOCK_HEADER;
}

static void decode_free(void *pointer)
{
	unsigned char *block;
	size_t size;

	if (pointer == NULL)
		return;
	block = (unsigned char *)pointer - DECODE_BLOCK_HEADER;
	memcpy(&size, block, sizeof(size));
	explicit_bzero(pointer, size);
	free(block);
}

static void decode_set_allocator(void)
{
	json_set_alloc_funcs(decode_malloc, decode_free);
}

void decode_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, decode_set_allocator);
}

static json_t *decode_load(const char *body, size_t length, const char **why)
{
	json_error_t error;
	json_t *root;

	if (body == NULL || length == 0) {
		*why = "empty response body";
		return NULL;
	}
	root = json_loadb(body, length, JSON_REJECT_DUPLICATES, &error);
	if (root == NULL) {
		*why = "response body is not JSON";
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*why = "response body is not a JSON object";
		return NULL;
	}
	return root;
}

static int decode_time(json_t *value, bool null_allowed, int64_t *seconds)
{
	json_int_t number;

	if (null_allowed && json_is_null(value)) {
		*seconds = 0;
		return 0;
	}
	if (!json_is_integer(value))
		return -EIO;
	number = json_integer_value(value);
	if (number < 0)
		return -EIO;
	*seconds = (int64_t)number;
	return 0;
}

/* A JWT is printable ASCII without spaces; anything else would break jwt.txt. */
static bool decode_text_is_valid(const char *text, size_t length)
{
	if (length == 0)
		return false;
	for (size_t i = 0; i < length; i++)
		if (text[i] <= ' ' || text[i] > '~')
			return false;
	return true;
}

static int decode_token_object(json_t *object, bool require_text, struct decoded_token *token,
			       const char **why)
{
	json_t *id = json_object_get(object, "id");
	json_t *text = json_object_get(object, "token");

	if (!json_is_object(object)) {
		*why = "a token is not a JSON object";
		return -EIO;
	}
	if (!json_is_string(id) || json_string_length(id) != RR_TOKEN_ID_LENGTH ||
	    !token_id_is_valid(json_string_value(id))) {
		*why = "\"id\" is not 64 lowercase hexadecimal digits";
		return -EIO;
	}
	memcpy(token->id, json_string_value(id), RR_TOKEN_ID_LENGTH + 1);
	if (decode_time(json_object_get(object, "created"), false, &token->created) != 0) {
		*why = "\"created\" is not a time";
		return -EIO;
	}
	if (decode_time(json_object_get(object, "expires"), true, &token->expires) != 0) {
		*why = "\"expires\" is neither a time nor null";
		return -EIO;
	}
	token->text = NULL;
	token->text_length = 0;
	if (text == NULL && !require_text)
		return 0;
	if (!json_is_string(text) ||
	    !decode_text_is_valid(json_string_value(text), json_string_length(text))) {
		*why = "\"token\" is not a token text";
		return -EIO;
	}
	token->text = json_string_value(text);
	token->text_length = json_string_length(text);
	return 0;
}

static int decode_compare_ids(const void *a, const void *b)
{
	const struct decoded_token *left = a;
	const struct decoded_token *right = b;

	return memcmp(left->id, right->id, RR_TOKEN_ID_LENGTH);
}

int decode_token_list(const char *body, size_t length, bool require_text, struct decoded_list *list,
		      const char **why)
{
	json_t *root = decode_load(body, length, why);
	json_t *array;
	struct decoded_token *tokens = NULL;
	size_t count;

	if (root == NULL)
		return -EIO;
	array = json_object_get(root, "tokens");
	if (!json_is_array(array)) {
		*why = "\"tokens\" is not an array";
		goto out_error;
	}
	count = json_array_size(array);
	if (count > 0) {
		tokens = calloc(count, sizeof(*tokens));
		if (tokens == NULL) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < count; i++)
		if (decode_token_object(json_array_get(array, i), require_text, &tokens[i], why) !=
		    0)
			goto out_error;
	if (count > 1)
		qsort(tokens, count, sizeof(*tokens), decode_compare_ids);
	for (size_t i = 1; i < count; i++) {
		if (decode_compare_ids(&tokens[i - 1], &tokens[i]) == 0) {
			*why = "a token is listed twice";
			goto out_error;
		}
	}
	list->tokens = tokens;
	list->count = count;
	list->root = root;
	return 0;

out_error:
	free(tokens);
	json_decref(root);
	return -EIO;
}

void decoded_list_release(struct decoded_list *list)
{
	free(list->tokens);
	json_decref(list->root);
	list->tokens = NULL;
	list->count = 0;
	list->root = NULL;
}

int decode_token(const char *body, size_t length, struct decoded_token *token, json_t **root,
		 const char **why)
{
	json_t *object = decode_load(body, length, why);

	if (object == NULL)
		return -EIO;
	if (decode_token_object(object, true, token, why) != 0) {
		json_decref(object);
		return -EIO;
	}
	*root = object;
	return 0;
}

int decode_error_message(const char *body, size_t length, char *message, size_t size)
{
	const char *why;
	json_t *root;
	json_t *value;
	const char *text;
	size_t i;

	message[0] = '\0';
	root = decode_load(body, length, &why);
	if (root == NULL)
		return -EIO;
	value = json_object_get(root, "error_message");
	if (!json_is_string(value)) {
		json_decref(root);
		return -EIO;
	}
	text = json_string_value(value);
	for (i = 0; text[i] != '\0' && i + 1 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		message[i] = c < ' ' || c == 0x7f ? ' ' : text[i];
	}
	message[i] = '\0';
	json_decref(root);
	return 0;
}
