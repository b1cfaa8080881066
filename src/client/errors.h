/*
 * The one table from an API answer (HTTP status, curl result) to the errno
 * a system call gets (rerobotsfs(1), ERRORS). Every call of the client goes
 * through it.
 */
#ifndef RR_CLIENT_ERRORS_H
#define RR_CLIENT_ERRORS_H

#include <stdbool.h>

#include <curl/curl.h>

/*
 * 0 for a success status (2xx, 304), else a negative errno. result is the
 * transfer's curl code and wins over the status when it is not CURLE_OK;
 * os_errno is CURLINFO_OS_ERRNO (0 when unknown); error_message is the
 * server's, or NULL; rate_limit_exhausted means X-RateLimit-Remaining: 0.
 */
int errors_from_answer(long http_status, CURLcode result, long os_errno, const char *error_message,
		       bool rate_limit_exhausted);

/* True for the errors of an API that cannot be reached at all. */
bool errors_is_unreachable(int error);

/*
 * True when an error is the API's word on the data itself (404: no such
 * token), which the cache must follow. Any other failure (no answer, a 5xx,
 * a rate limit, a rejected token, a mangled body) says nothing about the
 * tokens: a read is then answered from the cache where it holds the answer.
 */
bool errors_is_authoritative(int error);

/*
 * True when a transfer failed in a way that may have lost the answer to a
 * request the server did receive (or will receive on a new try), so that an
 * idempotent request is worth sending again.
 */
bool errors_transport_is_transient(CURLcode result);

#endif
