/*
 * Strict jansson decoders for the answers of SPEC section 3. Anything that
 * is not exactly the described JSON (missing or mistyped field, an id that is
 * not 64 lowercase hex digits, cut-off or non-JSON text) is -EIO, and *why
 * names the first problem for the log.
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

/* The tokens of a listing, sorted by id; valid until decoded_list_release(). */
struct decoded_list {
	struct decoded_token *tokens;
	size_t count;
	json_t *root;
};

/* The longest error_message kept for the log; longer ones are cut. */
#define DECODE_ERROR_MESSAGE_MAX 256

/*
 * Makes jansson wipe every block it frees, since decoded answers hold token
 * text. Call once before any decoding; it applies to the whole process.
 */
void decode_init(void);

/* GET /tokens: with require_text (?with_token=1) every entry must carry "token". */
int decode_token_list(const char *body, size_t length, bool require_text, struct decoded_list *list,
		      const char **why);
void decoded_list_release(struct decoded_list *list);

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
