/* What a response becomes: its errno, its one log line, and the two lines of an outage. */
#include "outcome.h"
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct http_request request = {.method = "GET", .path = "/token/abc"};

static void test_transport_failure_names_curl(void)
{
	struct outcome_log log;
	struct outcome outcome;
	struct http_response response = {.result = CURLE_COULDNT_CONNECT};

	outcome_log_init(&log, "http://127.0.0.1:1");
	snprintf(response.error_text, sizeof(response.error_text), "Connection refused");
	check("transport: the errno table",
	      outcome_from_response(&log, &outcome, "read", &request, &response) == -ECONNREFUSED);
	check("transport: no HTTP answer", outcome.transport);
	check("transport: the line",
	      strcmp(outcome.line, "read: GET /token/abc: Connection refused") == 0);
}

static void test_error_message_in_line(void)
{
	struct outcome_log log;
	struct outcome outcome;
	char body[] = "{\"error_message\": \"no such token\"}";
	struct http_response response = {
	    .result = CURLE_OK, .status = 404, .body = body, .body_length = strlen(body)};

	outcome_log_init(&log, "http://127.0.0.1:1");
	check("404: ENOENT",
	      outcome_from_response(&log, &outcome, "lookup", &request, &response) == -ENOENT);
	check("404: the server's words in the line",
	      strcmp(outcome.line, "lookup: GET /token/abc: HTTP 404: no such token "
				   "(No such file or directory)") == 0);
	check("404: the body is the API's", !outcome.body_unexpected);
}

static void test_error_without_json_body(void)
{
	struct outcome_log log;
	struct outcome outcome;
	char body[] = "<html>bad gateway</html>";
	struct http_response response = {
	    .result = CURLE_OK, .status = 502, .body = body, .body_length = strlen(body)};

	outcome_log_init(&log, "http://127.0.0.1:1");
	check("502: EIO",
	      outcome_from_response(&log, &outcome, "readdir", &request, &response) == -EIO);
	check("502: a body that is not the API's", outcome.body_unexpected);
	check("502: the line says so", strstr(outcome.line, "no error_message") != NULL);
}

static void test_bad_body(void)
{
	struct outcome outcome = {.status = 200};

	check("bad body: the error given",
	      outcome_bad_body(&outcome, "read", &request, -EIO, "\"id\" is missing") == -EIO);
	check("bad body: unexpected", outcome.body_unexpected);
	check("bad body: why in the line", strstr(outcome.line, "\"id\" is missing") != NULL);
	check("no memory: not the server's fault",
	      outcome_bad_body(&outcome, "read", &request, -ENOMEM, "no memory") == -ENOMEM &&
		  !outcome.body_unexpected);
}

static void test_outage_said_once(void)
{
	struct outcome_log log;
	struct outcome outcome = {.line = "read: GET /tokens: timed out"};
	struct http_response response = {.result = CURLE_OK, .status = 200};

	outcome_log_init(&log, "http://127.0.0.1:1");
	outcome_log_serving_cached(&log, &outcome);
	check("outage: serving cached", atomic_load(&log.serving_cached));
	outcome_log_serving_cached(&log, &outcome);
	check("outage: a success ends it",
	      outcome_from_response(&log, &outcome, "read", &request, &response) == 0 &&
		  !atomic_load(&log.serving_cached));
}

int main(void)
{
	test_transport_failure_names_curl();
	test_error_message_in_line();
	test_error_without_json_body();
	test_bad_body();
	test_outage_said_once();
	return harness_result();
}
