/*
 * The outcome of one API request: the errno the one table (errors.h) gives
 * it, and the one log line that tells a person what failed (operation,
 * method and path, HTTP status, the server's error_message or curl's words;
 * never a token's text). Also the pair of lines an outage makes: "serving
 * cached data" once when reads start being answered from the cache, and
 * "answers again" once when a request succeeds after that.
 */
#ifndef RR_CLIENT_OUTCOME_H
#define RR_CLIENT_OUTCOME_H

#include <stdatomic.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "decode.h"
#include "http.h"

#define OUTCOME_LINE_MAX 1024

struct outcome {
	int error;
	bool transport; /* no HTTP answer */
	long status;
	char error_message[DECODE_ERROR_MESSAGE_MAX];
	char detail[CURL_ERROR_SIZE]; /* curl's error text, or what was wrong with the body */
	/* An answer whose body is not the JSON docs/openapi.yaml gives for its status. */
	bool body_unexpected;
	char line[OUTCOME_LINE_MAX];
	long retry_after_s; /* the server's Retry-After or rate-limit reset, 0 for none */
};

/* Whether the client now answers reads from its cache, for the two lines of an outage. */
struct outcome_log {
	const char *origin; /* not copied */
	atomic_bool serving_cached;
};

void outcome_log_init(struct outcome_log *log, const char *origin);

/*
 * Maps a response through the one errno table into outcome, with its line
 * when it failed; 0 when it succeeded (and "answers again" is logged once
 * after an outage).
 */
int outcome_from_response(struct outcome_log *log, struct outcome *outcome, const char *operation,
			  const struct http_request *request, const struct http_response *response);

/*
 * A success status whose body is not what docs/openapi.yaml describes, or
 * that could not be taken (-ENOMEM): outcome becomes error, with why in its
 * line. Returns error.
 */
int outcome_bad_body(struct outcome *outcome, const char *operation,
		     const struct http_request *request, int error, const char *why);

/* Logs outcome's line as "serving cached data", once until the API answers again. */
void outcome_log_serving_cached(struct outcome_log *log, const struct outcome *outcome);

#endif
