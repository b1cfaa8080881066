/*
 * The ERRORS section of rerobotsfs(1) row by row: what the API answered, and
 * the errno the system call gets.
 */
#include "errors.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static void expect(const char *rule, int got, int expected)
{
	char seen[160];

	if (got != expected) {
		snprintf(seen, sizeof(seen), "got %d (%s), expected %d (%s)", got, strerror(-got),
			 expected, strerror(-expected));
		fail(rule, seen);
	}
}

static void expect_bool(const char *rule, bool got, bool expected)
{
	if (got != expected)
		fail(rule, got ? "got true" : "got false");
}

static int http(long status, const char *error_message, bool rate_limit_exhausted)
{
	return errors_from_answer(status, CURLE_OK, 0, error_message, rate_limit_exhausted);
}

static int transport(CURLcode result, long os_errno)
{
	return errors_from_answer(0, result, os_errno, NULL, false);
}

static void test_success_is_zero(void)
{
	expect("200", http(200, NULL, false), 0);
	expect("201", http(201, NULL, false), 0);
	expect("304", http(304, NULL, false), 0);
	expect("200 with no credit left after it", http(200, NULL, true), 0);
}

static void test_400_about_the_request_is_einval(void)
{
	expect("400 duration out of bounds", http(400, "duration is out of bounds", false),
	       -EINVAL);
	expect("400 without error_message", http(400, NULL, false), -EINVAL);
}

static void test_401_and_400_wrong_token_are_eacces(void)
{
	expect("401", http(401, "wrong authorization token", false), -EACCES);
	expect("401 without error_message", http(401, NULL, false), -EACCES);
	expect("400 wrong authorization token", http(400, "wrong authorization token", false),
	       -EACCES);
	expect("400 authentication failed", http(400, "authentication failed", false), -EACCES);
}

static void test_rate_limit_is_eagain(void)
{
	expect("403 with X-RateLimit-Remaining: 0", http(403, "rate limit", true), -EAGAIN);
	expect("429", http(429, NULL, false), -EAGAIN);
	expect("403 with credit left", http(403, "forbidden", false), -EACCES);
}

static void test_404_is_enoent(void)
{
	expect("404", http(404, "not found", false), -ENOENT);
}

static void test_5xx_and_unknown_statuses_are_eio(void)
{
	expect("500", http(500, NULL, false), -EIO);
	expect("502", http(502, NULL, false), -EIO);
	expect("503", http(503, "maintenance", false), -EIO);
	expect("599", http(599, NULL, false), -EIO);
	expect("302", http(302, NULL, false), -EIO);
	expect("405", http(405, NULL, false), -EIO);
	expect("no status at all", http(0, NULL, false), -EIO);
}

static void test_cut_off_body_is_eio(void)
{
	expect("partial file", transport(CURLE_PARTIAL_FILE, 0), -EIO);
	expect("connection reset while receiving", transport(CURLE_RECV_ERROR, ECONNRESET), -EIO);
	expect("empty reply", transport(CURLE_GOT_NOTHING, 0), -EIO);
	expect("body over the size limit", transport(CURLE_WRITE_ERROR, 0), -EIO);
	expect("Content-Length over the size limit", transport(CURLE_FILESIZE_EXCEEDED, 0), -EIO);
}

static void test_no_answer_within_timeout_is_etimedout(void)
{
	expect("operation timed out", transport(CURLE_OPERATION_TIMEDOUT, 0), -ETIMEDOUT);
	expect("connect timed out", transport(CURLE_COULDNT_CONNECT, ETIMEDOUT), -ETIMEDOUT);
	expect("transport wins over a status",
	       errors_from_answer(200, CURLE_OPERATION_TIMEDOUT, 0, NULL, false), -ETIMEDOUT);
}

static void test_unreachable_is_econnrefused_or_ehostunreach(void)
{
	expect("connection refused", transport(CURLE_COULDNT_CONNECT, ECONNREFUSED), -ECONNREFUSED);
	expect("connect failed, cause unknown", transport(CURLE_COULDNT_CONNECT, 0), -ECONNREFUSED);
	expect("host unreachable", transport(CURLE_COULDNT_CONNECT, EHOSTUNREACH), -EHOSTUNREACH);
	expect("network unreachable", transport(CURLE_COULDNT_CONNECT, ENETUNREACH), -EHOSTUNREACH);
	expect("unknown host name", transport(CURLE_COULDNT_RESOLVE_HOST, 0), -EHOSTUNREACH);
}

static void test_tls_failures(void)
{
	expect("certificate not trusted", transport(CURLE_PEER_FAILED_VERIFICATION, 0), -EACCES);
	expect("handshake failed", transport(CURLE_SSL_CONNECT_ERROR, 0), -EIO);
	expect("CA file unreadable", transport(CURLE_SSL_CACERT_BADFILE, 0), -EIO);
}

static void test_unreachable_errors(void)
{
	expect_bool("ETIMEDOUT is unreachable", errors_is_unreachable(-ETIMEDOUT), true);
	expect_bool("ECONNREFUSED is", errors_is_unreachable(-ECONNREFUSED), true);
	expect_bool("EHOSTUNREACH is", errors_is_unreachable(-EHOSTUNREACH), true);
	expect_bool("EIO is not", errors_is_unreachable(-EIO), false);
	expect_bool("EACCES is not", errors_is_unreachable(-EACCES), false);
	expect_bool("ENOENT is not", errors_is_unreachable(-ENOENT), false);
}

/* Only the API's word on a token changes what a read answers from the cache. */
static void test_only_a_404_is_authoritative(void)
{
	expect_bool("ENOENT is the API's word on a token", errors_is_authoritative(-ENOENT), true);
	expect_bool("EIO is not", errors_is_authoritative(-EIO), false);
	expect_bool("EACCES is not", errors_is_authoritative(-EACCES), false);
	expect_bool("EAGAIN is not", errors_is_authoritative(-EAGAIN), false);
	expect_bool("ETIMEDOUT is not", errors_is_authoritative(-ETIMEDOUT), false);
}

static void test_lost_answers_are_retried(void)
{
	expect_bool("refused: retry", errors_transport_is_transient(CURLE_COULDNT_CONNECT), true);
	expect_bool("empty reply: retry", errors_transport_is_transient(CURLE_GOT_NOTHING), true);
	expect_bool("reset: retry", errors_transport_is_transient(CURLE_RECV_ERROR), true);
	expect_bool("timeout: retry", errors_transport_is_transient(CURLE_OPERATION_TIMEDOUT),
		    true);
	expect_bool("bad certificate: no retry",
		    errors_transport_is_transient(CURLE_PEER_FAILED_VERIFICATION), false);
	expect_bool("body too large: no retry", errors_transport_is_transient(CURLE_WRITE_ERROR),
		    false);
}

int main(void)
{
	test_success_is_zero();
	test_400_about_the_request_is_einval();
	test_401_and_400_wrong_token_are_eacces();
	test_rate_limit_is_eagain();
	test_404_is_enoent();
	test_5xx_and_unknown_statuses_are_eio();
	test_cut_off_body_is_eio();
	test_no_answer_within_timeout_is_etimedout();
	test_unreachable_is_econnrefused_or_ehostunreach();
	test_tls_failures();
	test_unreachable_errors();
	test_only_a_404_is_authoritative();
	test_lost_answers_are_retried();
	return harness_result();
}
