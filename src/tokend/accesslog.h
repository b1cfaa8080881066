/*
 * The request log: the line each answered request leaves, with nothing of
 * what the client sent beyond the words of the API, token ids and the
 * query the API knows, since a client may put a token anywhere:
 *
 *     rerobots-tokend: GET /tokens?with_token=1 200 alice 0.3ms conn=1
 *     rerobots-tokend: GET /tokens?limit=1000&after=9f86d0...0f00a08 200 alice 2.1ms conn=1
 *     rerobots-tokend: GET /[redacted] 404 - 0.1ms conn=2
 *
 * The line is a contract (see server.h).
 */
#ifndef RR_TOKEND_ACCESSLOG_H
#define RR_TOKEND_ACCESSLOG_H

#include <time.h>

#include "api.h"

#define ACCESSLOG_URI_MAX 512

/* The URI as the log shows it, in out (ACCESSLOG_URI_MAX bytes and the NUL at most). */
void accesslog_uri(const char *uri, char *out);

/*
 * Logs the line of a request answered with response: method, the URI as
 * accesslog_uri made it, the user, the time since start (CLOCK_MONOTONIC)
 * and the connection's number.
 */
void accesslog_request(const char *method, const char *log_uri, const struct timespec *start,
		       const struct api_response *response, unsigned long connection);

#endif
