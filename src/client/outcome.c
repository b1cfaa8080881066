/* Request outcomes and their log lines; see outcome.h. */
#include "outcome.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "log.h"

void outcome_log_init(struct outcome_log *log, const char *origin)
{
	log->origin = origin;
	atomic_init(&log->serving_cached, false);
}

static void outcome_set_line(struct outcome *outcome, const char *operation,
			     const struct http_request *request)
{
	if (outcome->transport)
		snprintf(outcome->line, sizeof(outcome->line), "%s: %s %s: %s", operation,
			 request->method, request->path, outcome->detail);
	else if (outcome->error_message[0] != '\0')
		snprintf(outcome->line, sizeof(outcome->line), "%s: %s %s: HTTP %ld: %s (%s)",
			 operation, request->method, request->path, outcome->status,
			 outcome->error_message, strerror(-outcome->error));
	else
		snprintf(outcome->line, sizeof(outcome->line), "%s: %s %s: HTTP %ld: %s (%s)",
			 operation, request->method, request->path, outcome->status,
			 outcome->detail[0] != '\0' ? outcome->detail : "no error_message",
			 strerror(-outcome->error));
}

int outcome_from_response(struct outcome_log *log, struct outcome *outcome, const char *operation,
			  const struct http_request *request, const struct http_response *response)
{
	memset(outcome, 0, sizeof(*outcome));
	outcome->status = response->status;
	outcome->transport = response->result != CURLE_OK;
	outcome->retry_after_s = response->retry_after_s;
	if (outcome->transport)
		snprintf(outcome->detail, sizeof(outcome->detail), "%s", response->error_text);
	else if (response->status >= 400)
		outcome->body_unexpected =
		    decode_error_message(response->body, response->body_length,
					 outcome->error_message,
					 sizeof(outcome->error_message)) != 0;
	outcome->error = errors_from_answer(response->status, response->result, response->os_errno,
					    outcome->error_message, response->rate_limit_exhausted);
	if (outcome->error != 0)
		outcome_set_line(outcome, operation, request);
	else if (atomic_exchange(&log->serving_cached, false))
		log_info("the API at %s answers again: serving fresh data", log->origin);
	return outcome->error;
}

int outcome_bad_body(struct outcome *outcome, const char *operation,
		     const struct http_request *request, int error, const char *why)
{
	outcome->error = error;
	/* -EIO is a body that would not decode; anything else failed here, not there. */
	outcome->body_unexpected = error == -EIO;
	snprintf(outcome->detail, sizeof(outcome->detail), "%s", why);
	outcome_set_line(outcome, operation, request);
	return error;
}

void outcome_log_serving_cached(struct outcome_log *log, const struct outcome *outcome)
{
	if (!atomic_exchange(&log->serving_cached, true))
		log_warning("serving cached data: %s", outcome->line);
}
