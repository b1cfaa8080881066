/*
 * libcurl plumbing. The share handle holds the DNS cache and TLS sessions,
 * one mutex per kind of data. Connections are not shared through it: libcurl
 * does not support one connection cache used by concurrent threads. Instead
 * finished easy handles go back to a LIFO pool and keep their connection
 * alive, so sequential requests reuse one handle and one TCP connection, and
 * concurrent ones get a handle (and connection) each.
 *
 * The Authorization header can change while the pool serves requests (the
 * token file was rotated, the token renewed): each request holds on to the
 * headers it was sent with, and a 401 to a request sent with the current
 * ones gives the pool's owner one chance to replace them before the request
 * is sent once more.
 *
 * One file of 650 lines because the pool, its handles and its credentials
 * share the pool's locks and lifetime: split, each part would need the
 * pool's insides, and only this file knows curl.
 */
#include "http.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "grow.h"
#include "log.h"
#include "secret.h"

#define HTTP_CONNECT_TIMEOUT_MAX_MS 10000L
#define HTTP_LOW_SPEED_TIME_MAX	    30L
#define HTTP_BODY_INITIAL	    4096
#define HTTP_URL_MAX		    2048
#define HTTP_HEADER_MAX		    (HTTP_ETAG_MAX + 64)

/* The headers sent with every request: one set per token the pool was given. */
struct http_credential {
	/* Authorization (secret: wiped at free) and Accept. */
	struct curl_slist *headers;
	uint64_t generation;
	unsigned users; /* the pool while the set is current, and each request sent with it */
};

struct http_pool {
	char origin[HTTP_URL_MAX];
	long timeout_ms;
	char *cafile;
	bool insecure;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t credential_lock;
	struct http_credential *credential;
	/* Held while the owner is told of a 401, so that one rejection is handled once. */
	pthread_mutex_t rejected_lock;
	void (*rejected)(void *user);
	void *rejected_user;
	pthread_mutex_t idle_lock;
	CURL **idle;
	size_t idle_count;
	size_t idle_capacity;
};

static void http_global_init(void)
{
	/*
	 * libcurl's own buffers hold the Authorization header of every request
	 * it sends and the token texts of every answer it receives, and it
	 * frees them unwiped: its allocator wipes each block it frees or moves.
	 */
	CURLcode result = curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, secret_free,
					       secret_realloc, strdup, calloc);

	if (result != CURLE_OK)
		log_error("cannot initialize libcurl: %s", curl_easy_strerror(result));
}

static void http_share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *user)
{
	struct http_pool *pool = user;

	pthread_mutex_lock(&pool->share_locks[data]);
}

static void http_share_unlock(CURL *handle, curl_lock_data data, void *user)
{
	struct http_pool *pool = user;

	pthread_mutex_unlock(&pool->share_locks[data]);
}

static CURLSHcode http_share_setup(struct http_pool *pool)
{
	CURLSHcode result;

	if ((result = curl_share_setopt(pool->share, CURLSHOPT_LOCKFUNC, http_share_lock)) !=
	    CURLSHE_OK)
		return result;
	if ((result = curl_share_setopt(pool->share, CURLSHOPT_UNLOCKFUNC, http_share_unlock)) !=
	    CURLSHE_OK)
		return result;
	if ((result = curl_share_setopt(pool->share, CURLSHOPT_USERDATA, pool)) != CURLSHE_OK)
		return result;
	if ((result = curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS)) !=
	    CURLSHE_OK)
		return result;
	return curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

static struct curl_slist *http_headers_new(const char *token)
{
	static const char prefix[] = "Authorization: Bearer ";
	size_t token_length = strlen(token);
	struct curl_slist *headers;
	struct curl_slist *accept;
	char *authorization;

	authorization = malloc(sizeof(prefix) + token_length);
	if (authorization == NULL)
		return NULL;
	memcpy(authorization, prefix, sizeof(prefix) - 1);
	memcpy(authorization + sizeof(prefix) - 1, token, token_length + 1);
	headers = curl_slist_append(NULL, authorization);
	secret_free(authorization);
	if (headers == NULL)
		return NULL;
	accept = curl_slist_append(headers, "Accept: application/vnd.rerobots.v1+json");
	if (accept == NULL) {
		secret_free(headers->data);
		headers->data = NULL;
		curl_slist_free_all(headers);
		return NULL;
	}
	return accept;
}

static void http_headers_free(struct curl_slist *headers)
{
	if (headers == NULL)
		return;
	/* The first entry is the Authorization header. */
	explicit_bzero(headers->data, strlen(headers->data));
	curl_slist_free_all(headers);
}

static struct http_credential *http_credential_new(const char *token, uint64_t generation)
{
	struct http_credential *credential = calloc(1, sizeof(*credential));

	if (credential == NULL)
		return NULL;
	credential->headers = http_headers_new(token);
	if (credential->headers == NULL) {
		free(credential);
		return NULL;
	}
	credential->generation = generation;
	credential->users = 1;
	return credential;
}

/* Gives back one use; the last frees the headers. Lock not held. */
static void http_credential_release(struct http_pool *pool, struct http_credential *credential)
{
	bool last;

	if (credential == NULL)
		return;
	pthread_mutex_lock(&pool->credential_lock);
	last = --credential->users == 0;
	pthread_mutex_unlock(&pool->credential_lock);
	if (!last)
		return;
	http_headers_free(credential->headers);
	free(credential);
}

/* The current headers, held until http_credential_release(). */
static struct http_credential *http_credential_take(struct http_pool *pool)
{
	struct http_credential *credential;

	pthread_mutex_lock(&pool->credential_lock);
	credential = pool->credential;
	credential->users++;
	pthread_mutex_unlock(&pool->credential_lock);
	return credential;
}

static uint64_t http_credential_generation(struct http_pool *pool)
{
	uint64_t generation;

	pthread_mutex_lock(&pool->credential_lock);
	generation = pool->credential->generation;
	pthread_mutex_unlock(&pool->credential_lock);
	return generation;
}

struct http_pool *http_pool_new(const struct http_options *options)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct http_pool *pool;
	size_t origin_length = strlen(options->origin);

	pthread_once(&once, http_global_init);
	/* Room is left for the longest path, "/revoke/ID". */
	if (origin_length + 128 > sizeof(pool->origin)) {
		log_error("the origin URL is too long");
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		goto out_nomem;
	memcpy(pool->origin, options->origin, origin_length + 1);
	pool->timeout_ms = options->timeout_ms;
	pool->insecure = options->insecure;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&pool->share_locks[i], NULL);
	pthread_mutex_init(&pool->idle_lock, NULL);
	pthread_mutex_init(&pool->credential_lock, NULL);
	pthread_mutex_init(&pool->rejected_lock, NULL);
	if (options->cafile != NULL) {
		pool->cafile = strdup(options->cafile);
		if (pool->cafile == NULL)
			goto out_nomem;
	}
	pool->credential = http_credential_new(options->token, 0);
	if (pool->credential == NULL)
		goto out_nomem;
	pool->share = curl_share_init();
	if (pool->share == NULL)
		goto out_nomem;
	if (http_share_setup(pool) != CURLSHE_OK) {
		log_error("cannot set up a libcurl share handle");
		http_pool_free(pool);
		return NULL;
	}
	if (options->insecure)
		log_warning(
		    "TLS verification is off (insecure): the API's identity is not checked");
	return pool;

out_nomem:
	log_error("cannot set up the HTTP client: %s", strerror(ENOMEM));
	http_pool_free(pool);
	return NULL;
}

void http_pool_free(struct http_pool *pool)
{
	if (pool == NULL)
		return;
	for (size_t i = 0; i < pool->idle_count; i++)
		curl_easy_cleanup(pool->idle[i]);
	free(pool->idle);
	if (pool->share != NULL)
		curl_share_cleanup(pool->share);
	http_credential_release(pool, pool->credential);
	free(pool->cafile);
	pthread_mutex_destroy(&pool->rejected_lock);
	pthread_mutex_destroy(&pool->credential_lock);
	pthread_mutex_destroy(&pool->idle_lock);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&pool->share_locks[i]);
	free(pool);
}

/* Room for needed bytes of body; the old block wiped, since it may hold token text. */
static bool http_body_reserve(struct http_response *response, size_t needed)
{
	return secret_reserve(&response->body, response->body_length, &response->body_capacity,
			      needed, HTTP_BODY_INITIAL, SIZE_MAX) == 0;
}

/* What the body callback needs to know about the transfer it writes for. */
struct http_transfer {
	CURL *handle;
	const struct http_request *request;
	struct http_response *response;
	size_t received;
};

static bool http_body_goes_to_sink(struct http_transfer *transfer)
{
	long status = 0;

	return transfer->request->sink != NULL &&
	       curl_easy_getinfo(transfer->handle, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	       status == 200;
}

static size_t http_write_body(char *data, size_t size, size_t count, void *user)
{
	struct http_transfer *transfer = user;
	struct http_response *response = transfer->response;
	size_t length = size * count;
	bool to_sink = http_body_goes_to_sink(transfer);
	size_t limit = to_sink ? HTTP_BODY_MAX : HTTP_BUFFERED_BODY_MAX;

	if (length > limit - transfer->received) {
		response->body_limit_passed = limit;
		return 0;
	}
	transfer->received += length;
	if (to_sink) {
		if (transfer->request->sink(transfer->request->sink_user, data, length) != 0) {
			response->body_rejected = true;
			return 0;
		}
		return length;
	}
	if (!http_body_reserve(response, response->body_length + length + 1))
		return 0;
	memcpy(response->body + response->body_length, data, length);
	response->body_length += length;
	response->body[response->body_length] = '\0';
	return length;
}

/* Copies the value of "Name: value\r\n" when the name matches, without surrounding blanks. */
static bool http_header_value(const char *line, size_t length, const char *name, char *value,
			      size_t size)
{
	size_t name_length = strlen(name);
	size_t start;
	size_t end;

	if (length <= name_length || line[name_length] != ':' ||
	    strncasecmp(line, name, name_length) != 0)
		return false;
	start = name_length + 1;
	end = length;
	while (start < end && (line[start] == ' ' || line[start] == '\t'))
		start++;
	while (end > start && (line[end - 1] == '\r' || line[end - 1] == '\n' ||
			       line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	if (end - start >= size)
		return false;
	memcpy(value, line + start, end - start);
	value[end - start] = '\0';
	return true;
}

static size_t http_write_header(char *line, size_t size, size_t count, void *user)
{
	struct http_response *response = user;
	size_t length = size * count;
	char value[32];
	char *end;

	/* A new status line (after a 1xx) starts a new set of headers. */
	if (length >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		response->etag[0] = '\0';
		response->rate_limit_exhausted = false;
		response->rate_limit_reset = 0;
		return length;
	}
	if (http_header_value(line, length, "ETag", response->etag, sizeof(response->etag)))
		return length;
	if (http_header_value(line, length, "X-RateLimit-Remaining", value, sizeof(value)))
		response->rate_limit_exhausted = strcmp(value, "0") == 0;
	if (http_header_value(line, length, "X-RateLimit-Reset", value, sizeof(value))) {
		response->rate_limit_reset = strtoll(value, &end, 10);
		if (*end != '\0' || response->rate_limit_reset < 0)
			response->rate_limit_reset = 0;
	}
	return length;
}

/* The options every request of this pool shares, set once per easy handle. */
static CURLcode http_handle_setup(struct http_pool *pool, CURL *handle)
{
	long connect_timeout_ms = pool->timeout_ms < HTTP_CONNECT_TIMEOUT_MAX_MS
				      ? pool->timeout_ms
				      : HTTP_CONNECT_TIMEOUT_MAX_MS;
	long low_speed_time = pool->timeout_ms / 1000;
	CURLcode result;

	if (low_speed_time < 1)
		low_speed_time = 1;
	if (low_speed_time > HTTP_LOW_SPEED_TIME_MAX)
		low_speed_time = HTTP_LOW_SPEED_TIME_MAX;
	if ((result = curl_easy_setopt(handle, CURLOPT_SHARE, pool->share)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms)) !=
	    CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, low_speed_time)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE,
				       (curl_off_t)HTTP_BODY_MAX)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_USERAGENT, "rerobotsfs")) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, pool->insecure ? 0L : 1L)) !=
	    CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, pool->insecure ? 0L : 2L)) !=
	    CURLE_OK)
		return result;
	if (pool->cafile != NULL &&
	    (result = curl_easy_setopt(handle, CURLOPT_CAINFO, pool->cafile)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, http_write_body)) != CURLE_OK)
		return result;
	return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, http_write_header);
}

static CURL *http_handle_take(struct http_pool *pool, CURLcode *result)
{
	CURL *handle = NULL;

	pthread_mutex_lock(&pool->idle_lock);
	if (pool->idle_count > 0)
		handle = pool->idle[--pool->idle_count];
	pthread_mutex_unlock(&pool->idle_lock);
	if (handle != NULL)
		return handle;

	handle = curl_easy_init();
	if (handle == NULL) {
		*result = CURLE_FAILED_INIT;
		return NULL;
	}
	*result = http_handle_setup(pool, handle);
	if (*result != CURLE_OK) {
		curl_easy_cleanup(handle);
		return NULL;
	}
	return handle;
}

/* Keeps the handle, and with it its open connection, for the next request. */
static void http_handle_give_back(struct http_pool *pool, CURL *handle)
{
	CURL **idle;

	pthread_mutex_lock(&pool->idle_lock);
	idle = grow_array(pool->idle, &pool->idle_capacity, pool->idle_count + 1, sizeof(*idle), 8);
	if (idle == NULL) {
		pthread_mutex_unlock(&pool->idle_lock);
		curl_easy_cleanup(handle);
		return;
	}
	pool->idle = idle;
	pool->idle[pool->idle_count++] = handle;
	pthread_mutex_unlock(&pool->idle_lock);
}

static CURLcode http_request_setup(struct http_pool *pool, CURL *handle,
				   const struct http_request *request, const char *url,
				   struct curl_slist *headers, struct http_transfer *transfer)
{
	struct http_response *response = transfer->response;
	long timeout_ms = request->timeout_ms > 0 ? request->timeout_ms : pool->timeout_ms;
	CURLcode result;

	if ((result = curl_easy_setopt(handle, CURLOPT_URL, url)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, response->error_text)) !=
	    CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_WRITEDATA, transfer)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_HEADERDATA, response)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout_ms)) != CURLE_OK)
		return result;
	if (strcmp(request->method, "POST") != 0)
		return curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
	if ((result = curl_easy_setopt(handle, CURLOPT_POST, 1L)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE,
				       request->body ? (long)strlen(request->body) : 0L)) !=
	    CURLE_OK)
		return result;
	return curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request->body ? request->body : "");
}

/* Forgets the pointers into this request's memory before the handle is reused. */
static CURLcode http_request_forget(CURL *handle)
{
	CURLcode result;

	if ((result = curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, NULL)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_HTTPHEADER, NULL)) != CURLE_OK)
		return result;
	if ((result = curl_easy_setopt(handle, CURLOPT_WRITEDATA, NULL)) != CURLE_OK)
		return result;
	return curl_easy_setopt(handle, CURLOPT_HEADERDATA, NULL);
}

/* Retry-After (curl reads both of its forms), or the rate limit's reset when no credit is left. */
static void http_response_retry_after(CURL *handle, struct http_response *response)
{
	curl_off_t retry_after = 0;
	long long now = (long long)time(NULL);

	if (curl_easy_getinfo(handle, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
	    retry_after > 0)
		response->retry_after_s = retry_after > LONG_MAX ? LONG_MAX : (long)retry_after;
	if (response->rate_limit_exhausted && response->rate_limit_reset > now &&
	    response->rate_limit_reset - now > response->retry_after_s)
		response->retry_after_s = response->rate_limit_reset - now > LONG_MAX
					      ? LONG_MAX
					      : (long)(response->rate_limit_reset - now);
}

static void http_perform_once(struct http_pool *pool, const struct http_request *request,
			      struct http_response *response, struct curl_slist *headers)
{
	char url[HTTP_URL_MAX];
	char if_none_match[HTTP_HEADER_MAX];
	char idempotency_key[HTTP_HEADER_MAX];
	/* Per-request headers go in front of the pool's list, without copying it. */
	struct curl_slist extra[3];
	size_t extra_count = 0;
	struct http_transfer transfer = {.request = request, .response = response};
	CURL *handle;

	memset(response, 0, sizeof(*response));
	response->result = CURLE_OK;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", pool->origin, request->path) >=
	    sizeof(url)) {
		response->result = CURLE_URL_MALFORMAT;
		snprintf(response->error_text, sizeof(response->error_text), "URL too long");
		return;
	}
	if (request->if_none_match != NULL) {
		snprintf(if_none_match, sizeof(if_none_match), "If-None-Match: %s",
			 request->if_none_match);
		extra[extra_count++].data = if_none_match;
	}
	if (request->idempotency_key != NULL) {
		snprintf(idempotency_key, sizeof(idempotency_key), "Idempotency-Key: %s",
			 request->idempotency_key);
		extra[extra_count++].data = idempotency_key;
	}
	if (request->body != NULL)
		extra[extra_count++].data = "Content-Type: application/json";
	for (size_t i = extra_count; i > 0; i--) {
		extra[i - 1].next = headers;
		headers = &extra[i - 1];
	}

	handle = http_handle_take(pool, &response->result);
	if (handle == NULL) {
		snprintf(response->error_text, sizeof(response->error_text), "%s",
			 curl_easy_strerror(response->result));
		return;
	}
	transfer.handle = handle;
	response->result = http_request_setup(pool, handle, request, url, headers, &transfer);
	if (response->result == CURLE_OK)
		response->result = curl_easy_perform(handle);
	if (response->body_rejected)
		response->result = CURLE_OK;
	if (curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response->status) != CURLE_OK)
		response->status = 0;
	if (curl_easy_getinfo(handle, CURLINFO_OS_ERRNO, &response->os_errno) != CURLE_OK)
		response->os_errno = 0;
	http_response_retry_after(handle, response);
	if (response->body_limit_passed != 0)
		snprintf(response->error_text, sizeof(response->error_text),
			 "response body larger than %zu KiB", response->body_limit_passed / 1024);
	else if (response->result != CURLE_OK && response->error_text[0] == '\0')
		snprintf(response->error_text, sizeof(response->error_text), "%s",
			 curl_easy_strerror(response->result));
	if (http_request_forget(handle) == CURLE_OK)
		http_handle_give_back(pool, handle);
	else
		curl_easy_cleanup(handle);
}

/*
 * After a 401 to a request sent with the current headers, the owner may
 * replace them; true when the request is worth sending again: the headers
 * changed since it was sent, by the owner now or by another request's 401.
 */
static bool http_token_replaced(struct http_pool *pool, const struct http_response *response,
				uint64_t generation)
{
	bool replaced;

	if (response->result != CURLE_OK || response->status != 401)
		return false;
	pthread_mutex_lock(&pool->rejected_lock);
	if (pool->rejected != NULL && http_credential_generation(pool) == generation)
		pool->rejected(pool->rejected_user);
	replaced = http_credential_generation(pool) != generation;
	pthread_mutex_unlock(&pool->rejected_lock);
	return replaced;
}

void http_perform(struct http_pool *pool, const struct http_request *request,
		  struct http_response *response)
{
	struct http_credential *credential = http_credential_take(pool);

	http_perform_once(pool, request, response, credential->headers);
	if (http_token_replaced(pool, response, credential->generation)) {
		http_credential_release(pool, credential);
		http_response_release(response);
		credential = http_credential_take(pool);
		http_perform_once(pool, request, response, credential->headers);
	}
	http_credential_release(pool, credential);
}

int http_pool_set_token(struct http_pool *pool, const char *token)
{
	struct http_credential *replaced;
	struct http_credential *credential;

	pthread_mutex_lock(&pool->credential_lock);
	replaced = pool->credential;
	credential = http_credential_new(token, replaced->generation + 1);
	if (credential != NULL)
		pool->credential = credential;
	pthread_mutex_unlock(&pool->credential_lock);
	if (credential == NULL)
		return -ENOMEM;
	http_credential_release(pool, replaced);
	return 0;
}

void http_pool_on_rejected(struct http_pool *pool, void (*rejected)(void *user), void *user)
{
	pthread_mutex_lock(&pool->rejected_lock);
	pool->rejected = rejected;
	pool->rejected_user = user;
	pthread_mutex_unlock(&pool->rejected_lock);
}

void http_response_release(struct http_response *response)
{
	secret_free(response->body);
	response->body = NULL;
	response->body_length = 0;
	response->body_capacity = 0;
}
