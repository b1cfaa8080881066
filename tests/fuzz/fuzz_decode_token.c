/*
 * libFuzzer target: the decoders of single answers, decode_token (GET
 * /token/ID, POST /tokens) and decode_error_message (every error). An
 * accepted token must have a valid id and a printable text, and a kept
 * error_message must be one NUL-terminated line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "token_id.h"

#define FUZZ_MESSAGE_SIZE 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char message[FUZZ_MESSAGE_SIZE + 1];
	struct decoded_token token;
	json_t *root = NULL;
	const char *why = NULL;

	decode_init();
	if (decode_token(body, size, &token, &root, &why) == 0) {
		if (!token_id_is_valid(token.id) || token.text == NULL || token.text_length == 0 ||
		    token.created < 0 || token.expires < 0)
			abort();
		for (size_t i = 0; i < token.text_length; i++)
			if (token.text[i] <= ' ' || token.text[i] > '~')
				abort();
		json_decref(root);
	} else if (why == NULL) {
		abort();
	}

	/* One byte more than the decoder is told of, to catch a write past its end. */
	message[FUZZ_MESSAGE_SIZE] = 'X';
	decode_error_message(body, size, message, FUZZ_MESSAGE_SIZE);
	if (message[FUZZ_MESSAGE_SIZE] != 'X' || strlen(message) >= FUZZ_MESSAGE_SIZE)
		abort();
	for (size_t i = 0; message[i] != '\0'; i++)
		if ((unsigned char)message[i] < ' ' || message[i] == 0x7f)
			abort();
	return 0;
}
