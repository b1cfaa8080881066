/*
 * The ERRORS section of rerobotsfs(1) as code. TLS failures: a certificate that cannot be verified
 * (unknown CA, wrong host name, expired) is -EACCES, because retrying cannot
 * help and the user must fix trust (cafile=); every other TLS failure
 * (handshake cut, bad CA file) is -EIO.
 */
#include "errors.h"

#include <errno.h>
#include <string.h>

/* The server's words for a token it does not accept, which it may send with 400. */
static const char *const errors_auth_messages[] = {
    "wrong authorization token",
    "authentication failed",
};

static bool errors_message_is_auth_failure(const char *error_message)
{
	if (error_message == NULL)
		return false;
	for (size_t i = 0; i < sizeof(errors_auth_messages) / sizeof(errors_auth_messages[0]); i++)
		if (strcmp(error_message, errors_auth_messages[i]) == 0)
			return true;
	return false;
}

static int errors_transport_errno(CURLcode result, long os_errno)
{
	switch (result) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
			return -EHOSTUNREACH;
		if (os_errno == ETIMEDOUT)
			return -ETIMEDOUT;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_PEER_FAILED_VERIFICATION:
		return -EACCES;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int errors_from_answer(long http_status, CURLcode result, long os_errno, const char *error_message,
		       bool rate_limit_exhausted)
{
	if (result != CURLE_OK)
		return errors_transport_errno(result, os_errno);
	if ((http_status >= 200 && http_status <= 299) || http_status == 304)
		return 0;
	switch (http_status) {
	case 400:
		return errors_message_is_auth_failure(error_message) ? -EACCES : -EINVAL;
	case 401:
		return -EACCES;
	case 403:
		return rate_limit_exhausted ? -EAGAIN : -EACCES;
	case 404:
		return -ENOENT;
	case 429:
		return -EAGAIN;
	default:
		/* 5xx, and any status docs/openapi.yaml does not describe. */
		return -EIO;
	}
}

bool errors_is_unreachable(int error)
{
	return error == -ETIMEDOUT || error == -ECONNREFUSED || error == -EHOSTUNREACH;
}

bool errors_is_authoritative(int error)
{
	return error == -ENOENT;
}

bool errors_transport_is_transient(CURLcode result)
{
	switch (result) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		return false;
	}
}
