/*
 * Decoding API answers. The decoders trust nothing: a field of the wrong
 * type or an id the filesystem could not show as a directory name would
 * otherwise surface far from here, as a wrong file or a crash.
 */
#include "decode.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "token_id.h"

/*
 * Decoded answers hold token text, and jansson frees its blocks unwiped.
 * Its allocator can only be set for the whole process: in rerobotsfs the
 * client is jansson's only user, and every block it frees may be a token's.
 */
static void decode_set_allocator(void)
{
	json_set_alloc_funcs(malloc, secret_free);
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

/*
 * A text must hash to the id it comes with, wherever it comes from: a
 * server or a proxy that swapped texts would otherwise make ID/jwt.txt
 * hold another token.
 */
static bool decode_text_matches_id(const struct decoded_token *token)
{
	char id[RR_TOKEN_ID_LENGTH + 1];

	return token_id_compute(token->text, token->text_length, id) == 0 &&
	       memcmp(id, token->id, sizeof(id)) == 0;
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
	if (!decode_text_matches_id(token)) {
		*why = "\"id\" is not the SHA-256 of \"token\"";
		return -EIO;
	}
	return 0;
}

/* Longest pieces the stream keeps: one token object, and the frame around the array. */
#define DECODE_ELEMENT_MAX (64 * 1024)
#define DECODE_FRAME_MAX   (64 * 1024)

enum decode_array_state {
	DECODE_ARRAY_START,
	DECODE_ARRAY_AFTER_COMMA,
	DECODE_ARRAY_AFTER_ELEMENT,
};

void decode_stream_init(struct decode_stream *stream, bool require_text, decode_token_fn each,
			void *user)
{
	memset(stream, 0, sizeof(*stream));
	stream->require_text = require_text;
	stream->each = each;
	stream->user = user;
}

void decode_stream_release(struct decode_stream *stream)
{
	secret_free(stream->element);
	free(stream->frame);
	stream->element = NULL;
	stream->frame = NULL;
}

static int decode_stream_fail(struct decode_stream *stream, int error, const char *why)
{
	if (stream->error == 0) {
		stream->error = error;
		stream->why = why;
	}
	return stream->error;
}

/* Appends bytes; the old block of a buffer that grows is wiped (it may hold a token). */
static int decode_buffer_append(char **buffer, size_t *length, size_t *capacity, size_t max,
				const char *data, size_t size)
{
	int error = secret_reserve(buffer, *length, capacity, *length + size, 1024, max);

	if (error != 0)
		return error;
	memcpy(*buffer + *length, data, size);
	*length += size;
	return 0;
}

static int decode_stream_to_frame(struct decode_stream *stream, char c)
{
	int error = decode_buffer_append(&stream->frame, &stream->frame_length,
					 &stream->frame_capacity, DECODE_FRAME_MAX, &c, 1);

	if (error != 0)
		return decode_stream_fail(stream, error, "response body is not a token listing");
	return 0;
}

/*
 * The plain form of a token object, read without jansson: keys among id,
 * token, created and expires, each once; values an ASCII string without
 * escapes, a non-negative integer, or null. jansson reads about 45 MB/s
 * here, and reading every jwt.txt of 10,000 tokens cold is 7 MB of such
 * objects. Returns false for anything else, which jansson then judges, so
 * the result is the same either way.
 */
struct decode_plain {
	const char *at;
	const char *end;
};

static void decode_plain_blanks(struct decode_plain *plain)
{
	while (plain->at < plain->end && (*plain->at == ' ' || *plain->at == '\t' ||
					  *plain->at == '\n' || *plain->at == '\r'))
		plain->at++;
}

static bool decode_plain_char(struct decode_plain *plain, char c)
{
	decode_plain_blanks(plain);
	if (plain->at == plain->end || *plain->at != c)
		return false;
	plain->at++;
	return true;
}

static bool decode_plain_string(struct decode_plain *plain, const char **text, size_t *length)
{
	const char *start;

	if (!decode_plain_char(plain, '"'))
		return false;
	start = plain->at;
	while (plain->at < plain->end && *plain->at != '"') {
		if (*plain->at < ' ' || *plain->at > '~' || *plain->at == '\\')
			return false;
		plain->at++;
	}
	if (plain->at == plain->end)
		return false;
	*text = start;
	*length = (size_t)(plain->at - start);
	plain->at++;
	return true;
}

/* A time, or with null_allowed also null (0). Leading zeros and more than 18 digits go to jansson.
 */
static bool decode_plain_time(struct decode_plain *plain, bool null_allowed, int64_t *seconds)
{
	int digits = 0;

	decode_plain_blanks(plain);
	if (null_allowed && plain->end - plain->at >= 4 && memcmp(plain->at, "null", 4) == 0) {
		plain->at += 4;
		*seconds = 0;
		return true;
	}
	*seconds = 0;
	while (plain->at < plain->end && *plain->at >= '0' && *plain->at <= '9') {
		if (++digits > 18 || (digits == 2 && *seconds == 0))
			return false;
		*seconds = *seconds * 10 + (*plain->at++ - '0');
	}
	return digits > 0;
}

static bool decode_plain_token(const char *element, size_t length, bool require_text,
			       struct decoded_token *token)
{
	struct decode_plain plain = {element, element + length};
	bool seen_id = false;
	bool seen_created = false;
	bool seen_expires = false;
	const char *key;
	size_t key_length;
	const char *id;
	size_t id_length;

	token->text = NULL;
	token->text_length = 0;
	if (!decode_plain_char(&plain, '{'))
		return false;
	do {
		if (!decode_plain_string(&plain, &key, &key_length) ||
		    !decode_plain_char(&plain, ':'))
			return false;
		if (key_length == 2 && memcmp(key, "id", 2) == 0 && !seen_id) {
			seen_id = true;
			if (!decode_plain_string(&plain, &id, &id_length) ||
			    id_length != RR_TOKEN_ID_LENGTH)
				return false;
			memcpy(token->id, id, RR_TOKEN_ID_LENGTH);
			token->id[RR_TOKEN_ID_LENGTH] = '\0';
			if (!token_id_is_valid(token->id))
				return false;
		} else if (key_length == 5 && memcmp(key, "token", 5) == 0 && token->text == NULL) {
			if (!decode_plain_string(&plain, &token->text, &token->text_length) ||
			    !decode_text_is_valid(token->text, token->text_length))
				return false;
		} else if (key_length == 7 && memcmp(key, "created", 7) == 0 && !seen_created) {
			seen_created = true;
			if (!decode_plain_time(&plain, false, &token->created))
				return false;
		} else if (key_length == 7 && memcmp(key, "expires", 7) == 0 && !seen_expires) {
			seen_expires = true;
			if (!decode_plain_time(&plain, true, &token->expires))
				return false;
		} else {
			return false;
		}
	} while (decode_plain_char(&plain, ','));
	if (!decode_plain_char(&plain, '}'))
		return false;
	decode_plain_blanks(&plain);
	/* A text that does not match its id is left to the jansson path to name. */
	return plain.at == plain.end && seen_id && seen_created && seen_expires &&
	       (token->text != NULL ? decode_text_matches_id(token) : !require_text);
}

/* Decodes the complete token object in the element buffer and hands it out. */
static int decode_stream_element_done(struct decode_stream *stream)
{
	struct decoded_token token;
	json_error_t json_error;
	const char *why = NULL;
	json_t *object = NULL;
	int error = 0;

	stream->in_element = false;
	stream->array_state = DECODE_ARRAY_AFTER_ELEMENT;
	if (!decode_plain_token(stream->element, stream->element_length, stream->require_text,
				&token)) {
		object = json_loadb(stream->element, stream->element_length, JSON_REJECT_DUPLICATES,
				    &json_error);
		if (object == NULL) {
			error = -EIO;
			why = "a token is not valid JSON";
		} else {
			error = decode_token_object(object, stream->require_text, &token, &why);
		}
	}
	if (error == 0)
		error = stream->each(stream->user, &token);
	json_decref(object);
	explicit_bzero(stream->element, stream->element_length);
	stream->element_length = 0;
	if (error != 0)
		return decode_stream_fail(stream, error, why ? why : "cannot keep a token");
	return 0;
}

/* String and nesting state, for every byte outside the array's own punctuation. */
static void decode_stream_track(struct decode_stream *stream, char c)
{
	if (stream->in_string) {
		if (stream->escaped)
			stream->escaped = false;
		else if (c == '\\')
			stream->escaped = true;
		else if (c == '"')
			stream->in_string = false;
		return;
	}
	if (c == '"')
		stream->in_string = true;
	else if (c == '{' || c == '[')
		stream->depth++;
	else if (c == '}' || c == ']')
		stream->depth--;
}

/*
 * Takes as much of data as belongs to the token object being read, in one
 * copy, and decodes the object once it is complete. Returns the bytes taken.
 */
static size_t decode_stream_element(struct decode_stream *stream, const char *data, size_t length)
{
	bool complete = false;
	size_t taken;
	int error;

	for (taken = 0; taken < length && !complete; taken++) {
		char c = data[taken];

		decode_stream_track(stream, c);
		complete = !stream->in_string && stream->depth == 2;
	}
	error = decode_buffer_append(&stream->element, &stream->element_length,
				     &stream->element_capacity, DECODE_ELEMENT_MAX, data, taken);
	if (error != 0)
		decode_stream_fail(stream, error, "a token object is too large");
	else if (complete)
		decode_stream_element_done(stream);
	return taken;
}

/* Between the token objects: only commas, white space, the next object or the end. */
static int decode_stream_array_byte(struct decode_stream *stream, char c)
{
	switch (c) {
	case ' ':
	case '\t':
	case '\r':
	case '\n':
		return 0;
	case ',':
		if (stream->array_state != DECODE_ARRAY_AFTER_ELEMENT)
			return decode_stream_fail(stream, -EIO, "misplaced comma in \"tokens\"");
		stream->array_state = DECODE_ARRAY_AFTER_COMMA;
		return 0;
	case '{':
		if (stream->array_state == DECODE_ARRAY_AFTER_ELEMENT)
			return decode_stream_fail(stream, -EIO, "missing comma in \"tokens\"");
		stream->in_element = true;
		decode_stream_element(stream, &c, 1);
		return stream->error;
	case ']':
		if (stream->array_state == DECODE_ARRAY_AFTER_COMMA)
			return decode_stream_fail(stream, -EIO, "trailing comma in \"tokens\"");
		stream->in_tokens = false;
		stream->depth--;
		return decode_stream_to_frame(stream, c);
	default:
		return decode_stream_fail(stream, -EIO, "a token is not a JSON object");
	}
}

/* The frame: the top-level object, whose "tokens" array is recognized by its key. */
static int decode_stream_frame_byte(struct decode_stream *stream, char c)
{
	bool at_top = stream->depth == 1;

	if (stream->in_string) {
		if (at_top && !stream->escaped && c != '"' &&
		    stream->key_length < sizeof(stream->key))
			stream->key[stream->key_length++] = c;
		decode_stream_track(stream, c);
		return decode_stream_to_frame(stream, c);
	}
	if (at_top && c == ':')
		stream->tokens_value =
		    stream->key_length == 6 && memcmp(stream->key, "tokens", 6) == 0;
	else if (at_top && c == '[' && stream->tokens_value) {
		stream->in_tokens = true;
		stream->array_state = DECODE_ARRAY_START;
	} else if (at_top && c == '"') {
		stream->key_length = 0;
	}
	if (at_top && c != ':' && c != ' ' && c != '\t' && c != '\r' && c != '\n')
		stream->tokens_value = false;
	decode_stream_track(stream, c);
	if (stream->depth < 0)
		return decode_stream_fail(stream, -EIO, "response body is not JSON");
	return decode_stream_to_frame(stream, c);
}

int decode_stream_feed(struct decode_stream *stream, const char *data, size_t length,
		       const char **why)
{
	size_t i = 0;

	while (i < length && stream->error == 0) {
		if (stream->in_element)
			i += decode_stream_element(stream, data + i, length - i);
		else if (stream->in_tokens)
			decode_stream_array_byte(stream, data[i++]);
		else
			decode_stream_frame_byte(stream, data[i++]);
	}
	*why = stream->why;
	return stream->error;
}

int decode_stream_finish(struct decode_stream *stream, const char **why)
{
	json_error_t json_error;
	json_t *frame;
	json_t *tokens;
	json_t *next;

	if (stream->error == 0 && (stream->in_element || stream->in_tokens || stream->depth != 0))
		decode_stream_fail(stream, -EIO, "response body is cut off");
	if (stream->error == 0 && stream->frame_length == 0)
		decode_stream_fail(stream, -EIO, "empty response body");
	if (stream->error != 0) {
		*why = stream->why;
		return stream->error;
	}
	frame =
	    json_loadb(stream->frame, stream->frame_length, JSON_REJECT_DUPLICATES, &json_error);
	if (frame == NULL)
		decode_stream_fail(stream, -EIO, "response body is not JSON");
	else if (!json_is_object(frame))
		decode_stream_fail(stream, -EIO, "response body is not a JSON object");
	tokens = json_object_get(frame, "tokens");
	next = json_object_get(frame, "next");
	/* Its objects went to the callback; anything left in it was not a listing. */
	if (frame != NULL && (!json_is_array(tokens) || json_array_size(tokens) != 0))
		decode_stream_fail(stream, -EIO, "\"tokens\" is not an array of tokens");
	/* null is taken as no next page, as a server that serializes a missing cursor says it. */
	else if (next != NULL && !json_is_null(next) &&
		 (!json_is_string(next) || json_string_length(next) != RR_TOKEN_ID_LENGTH ||
		  !token_id_is_valid(json_string_value(next))))
		decode_stream_fail(stream, -EIO, "\"next\" is not a token id");
	else if (json_is_string(next))
		memcpy(stream->next, json_string_value(next), RR_TOKEN_ID_LENGTH + 1);
	json_decref(frame);
	*why = stream->why;
	return stream->error;
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
