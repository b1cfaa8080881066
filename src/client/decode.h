/*
 * Strict jansson decoders for the answers of the token API. Anything that
 * is not exactly the described JSON (missing or mistyped field, an id that is
 * not 64 lowercase hex digits, a text whose SHA-256 is not its id, cut-off or
 * non-JSON text) is -EIO, and *why names the first problem for the log.
 */
#ifndef RR_CLIENT_DECODE_H
#define RR_CLIENT_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rerobots/client.h"

/* A token as an answer describes it; text points into the decoded JSON (or is NULL). */
struct decoded_token {
	char id[RR_TOKEN_ID_LENGTH + 1];
	int64_t created;
	int64_t expires; /* 0 for "expires": null */
	const char *text;
	size_t text_length;
};

/* Takes one token of a listing; token->text is only valid during the call. 0 or -errno. */
typedef int (*decode_token_fn)(void *user, const struct decoded_token *token);

/*
 * An incremental decoder for GET /tokens. A listing of 10,000 tokens with
 * their texts is about 7 MiB of JSON, and as one jansson tree several times
 * that: instead the body is decoded as it arrives, each token object on its
 * own, and only the small frame around the array is kept and checked at the
 * end.
 */
struct decode_stream {
	bool require_text;
	decode_token_fn each;
	void *user;
	int error;
	const char *why;
	int depth;
	bool in_string;
	bool escaped;
	bool in_tokens;	   /* directly inside the top-level "tokens" array */
	bool in_element;   /* inside one token object of that array */
	bool tokens_value; /* the next depth-1 value belongs to the key "tokens" */
	int array_state;   /* what may come next inside the array */
	char key[8];	   /* the raw text of the latest depth-1 string, if short */
	size_t key_length;
	char *element; /* secret: the token object being read */
	size_t element_length;
	size_t element_capacity;
	char *frame; /* everything but the token objects */
	size_t frame_length;
	size_t frame_capacity;
	/* After decode_stream_finish(): "next", or "" on a last page or a whole listing. */
	char next[RR_TOKEN_ID_LENGTH + 1];
};

/* The longest error_message kept for the log; longer ones are cut. */
#define DECODE_ERROR_MESSAGE_MAX 256

/*
 * Makes jansson wipe every block it frees, since decoded answers hold token
 * text. Call once before any decoding; it applies to the whole process.
 */
void decode_init(void);

/* GET /tokens: with require_text (?with_token=1) every entry must carry "token". */
void decode_stream_init(struct decode_stream *stream, bool require_text, decode_token_fn each,
			void *user);
/* 0, or the first error (-EIO with *why set, or the callback's). */
int decode_stream_feed(struct decode_stream *stream, const char *data, size_t length,
		       const char **why);
/*
 * Checks that the whole body was a listing (or a page of one, whose "next"
 * it keeps in stream->next); 0 or -EIO with *why set.
 */
int decode_stream_finish(struct decode_stream *stream, const char **why);
void decode_stream_release(struct decode_stream *stream);

/*
 * GET /token/ID and POST /tokens: {"id", "token", "created", "expires"}. On
 * success *root holds the JSON that token->text points into; json_decref it.
 */
int decode_token(const char *body, size_t length, struct decoded_token *token, json_t **root,
		 const char **why);

/*
 * {"error_message": "..."}: copies the message, control characters replaced
 * so that it stays one log line, into message. Returns 0, or -EIO with
 * message set to "" for any other body.
 */
int decode_error_message(const char *body, size_t length, char *message, size_t size);

#endif
