/* The request log's line and the loggable copy of a URI; see accesslog.h. */
#include "accesslog.h"

#include <string.h>

#include "log.h"
#include "token_id.h"

#define ACCESSLOG_REDACTED "[redacted]"

/* The words of the API's paths; any other path segment may be anything a client sent. */
static const char *const accesslog_route_words[] = {"tokens", "token", "revoke", "purge"};

static bool accesslog_is_word(const char *text, size_t length, const char *word)
{
	return strlen(word) == length && memcmp(word, text, length) == 0;
}

static bool accesslog_is_token_id(const char *text, size_t length)
{
	char id[TOKEN_ID_LENGTH + 1];

	if (length != TOKEN_ID_LENGTH)
		return false;
	memcpy(id, text, length);
	id[length] = '\0';
	return token_id_is_valid(id);
}

static bool accesslog_segment_is_loggable(const char *segment, size_t length)
{
	for (size_t i = 0; i < sizeof(accesslog_route_words) / sizeof(accesslog_route_words[0]);
	     i++)
		if (accesslog_is_word(segment, length, accesslog_route_words[i]))
			return true;
	return accesslog_is_token_id(segment, length);
}

/* Appends text to the log URI at *length, if it fits. */
static void accesslog_append(char *out, size_t *length, const char *text, size_t size)
{
	if (*length + size > ACCESSLOG_URI_MAX)
		return;
	memcpy(out + *length, text, size);
	*length += size;
}

/* Whether value's length bytes (the query goes on after them) are 1 to max allowed characters. */
static bool accesslog_value_is(const char *value, size_t length, size_t max, const char *allowed)
{
	return length >= 1 && length <= max && strspn(value, allowed) == length;
}

/* Whether one name=value of a query is one the API knows, with a value of the form it takes. */
static bool accesslog_parameter_is_loggable(const char *parameter, size_t length)
{
	const char *equals = memchr(parameter, '=', length);
	const char *value;
	size_t name_length, value_length;

	if (equals == NULL)
		return false;
	name_length = (size_t)(equals - parameter);
	value = equals + 1;
	value_length = length - name_length - 1;
	if (accesslog_is_word(parameter, name_length, "with_token"))
		return accesslog_value_is(value, value_length, 5,
					  "abcdefghijklmnopqrstuvwxyz0123456789");
	if (accesslog_is_word(parameter, name_length, "limit"))
		return accesslog_value_is(value, value_length, 7, "0123456789");
	if (accesslog_is_word(parameter, name_length, "after"))
		return accesslog_is_token_id(value, value_length);
	return false;
}

/* The query as the log shows it: each parameter the API knows, the others redacted. */
static void accesslog_query(const char *query, char *out, size_t *length)
{
	const char *parameter = query;

	for (;;) {
		size_t parameter_length = strcspn(parameter, "&");

		if (accesslog_parameter_is_loggable(parameter, parameter_length))
			accesslog_append(out, length, parameter, parameter_length);
		else
			accesslog_append(out, length, ACCESSLOG_REDACTED,
					 strlen(ACCESSLOG_REDACTED));
		if (parameter[parameter_length] == '\0')
			return;
		accesslog_append(out, length, "&", 1);
		parameter += parameter_length + 1;
	}
}

/*
 * Only the path segments that are words of the API or token ids, and only
 * the query the API knows; anything else becomes [redacted]. Redacting by
 * what a token looks like (its base64url header starts "eyJ") is not
 * enough: a percent-encoded token, or one without its header, would slip
 * through.
 */
void accesslog_uri(const char *uri, char *out)
{
	const char *query = strchr(uri, '?');
	const char *path_end = query != NULL ? query : uri + strlen(uri);
	const char *segment = uri;
	size_t length = 0;

	while (segment < path_end) {
		const char *slash;
		size_t segment_length;

		if (*segment == '/') {
			accesslog_append(out, &length, "/", 1);
			segment++;
			continue;
		}
		slash = memchr(segment, '/', (size_t)(path_end - segment));
		segment_length = (size_t)((slash != NULL ? slash : path_end) - segment);
		if (accesslog_segment_is_loggable(segment, segment_length))
			accesslog_append(out, &length, segment, segment_length);
		else
			accesslog_append(out, &length, ACCESSLOG_REDACTED,
					 strlen(ACCESSLOG_REDACTED));
		segment += segment_length;
	}
	if (query != NULL) {
		accesslog_append(out, &length, "?", 1);
		accesslog_query(query + 1, out, &length);
	}
	if (length == 0)
		accesslog_append(out, &length, ACCESSLOG_REDACTED, strlen(ACCESSLOG_REDACTED));
	out[length] = '\0';
}

/* The method as the log shows it: one of HTTP's, else (it may be anything) [redacted]. */
static const char *accesslog_method(const char *method)
{
	static const char *const known[] = {"GET",   "HEAD",	"POST",	 "PUT",	   "DELETE",
					    "PATCH", "OPTIONS", "TRACE", "CONNECT"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return ACCESSLOG_REDACTED;
}

void accesslog_request(const char *method, const char *log_uri, const struct timespec *start,
		       const struct api_response *response, unsigned long connection)
{
	struct timespec now;
	double milliseconds;

	clock_gettime(CLOCK_MONOTONIC, &now);
	milliseconds = (double)(now.tv_sec - start->tv_sec) * 1e3 +
		       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
	log_info("%s %s %u %s %.1fms conn=%lu", accesslog_method(method), log_uri, response->status,
		 response->authenticated ? response->user : "-", milliseconds, connection);
}
