/*
 * The client's calls against a scripted HTTP server in the same process:
 * which requests each call makes (bench/fs-bench counts them), the headers
 * they carry, and what each answer turns into.
 */
#include "rerobots/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"
#include "token_id.h"
#include "harness.h"

#define FAKE_MAX_REQUESTS    256
#define FAKE_MAX_CONNECTIONS 64
#define TOKEN_COUNT	     3
/* The expiry of made tokens, 2096: far enough for the test, near enough to pass. */
#define FAR_FUTURE 4000000000LL

struct fake_request {
	char method[8];
	char path[128];
	char if_none_match[64];
	char idempotency_key[64];
	char authorization[64];
	/* For GET /tokens: the query's parameters, "" where absent. */
	bool listing;
	bool with_token;
	char limit[16];
	char after[RR_TOKEN_ID_LENGTH + 1];
};

struct fake_response {
	int status;
	const char *headers; /* extra header lines, each ending in \r\n */
	char body[4096];
	bool drop;    /* close the connection without an answer */
	int delay_ms; /* wait before answering */
};

typedef void (*fake_responder)(const struct fake_request *request, int nth,
			       struct fake_response *response);

static struct {
	pthread_mutex_t lock;
	int listener;
	int port;
	bool stopped;
	fake_responder respond;
	struct fake_request requests[FAKE_MAX_REQUESTS];
	int request_count;
	int connections[FAKE_MAX_CONNECTIONS];
	int connection_count;
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *own_text = "own.token.text";
static char own_id[RR_TOKEN_ID_LENGTH + 1];
static char texts[TOKEN_COUNT][32];
static char ids[TOKEN_COUNT][RR_TOKEN_ID_LENGTH + 1];
static const char *const unknown_id =
    "0000000000000000000000000000000000000000000000000000000000000000";

static void fake_header(const char *head, const char *name, char *value, size_t size)
{
	size_t name_length = strlen(name);

	value[0] = '\0';
	for (const char *line = strstr(head, "\r\n"); line != NULL;
	     line = strstr(line + 2, "\r\n")) {
		const char *start = line + 3 + name_length;
		size_t length = 0;

		if (strncasecmp(line + 2, name, name_length) != 0 || line[2 + name_length] != ':')
			continue;
		while (*start == ' ')
			start++;
		while (start[length] != '\r' && start[length] != '\0' && length + 1 < size)
			length++;
		memcpy(value, start, length);
		value[length] = '\0';
		return;
	}
}

/* Splits GET /tokens?... into the parameters the listing's answer depends on. */
static void fake_parse_query(struct fake_request *request)
{
	char query[sizeof(request->path)];
	char *saved = NULL;

	request->listing =
	    strcmp(request->method, "GET") == 0 &&
	    (strcmp(request->path, "/tokens") == 0 || strncmp(request->path, "/tokens?", 8) == 0);
	if (!request->listing || request->path[7] != '?')
		return;
	snprintf(query, sizeof(query), "%s", request->path + 8);
	for (char *pair = strtok_r(query, "&", &saved); pair != NULL;
	     pair = strtok_r(NULL, "&", &saved)) {
		if (strcmp(pair, "with_token=1") == 0)
			request->with_token = true;
		else if (strncmp(pair, "limit=", 6) == 0)
			snprintf(request->limit, sizeof(request->limit), "%s", pair + 6);
		else if (strncmp(pair, "after=", 6) == 0)
			snprintf(request->after, sizeof(request->after), "%s", pair + 6);
	}
}

/* Reads one request (headers and a Content-Length body); false when the peer is gone. */
static bool fake_read_request(int fd, struct fake_request *request)
{
	char head[8192];
	size_t length = 0;
	char *end = NULL;
	char value[64];
	long body_length;

	while (end == NULL) {
		ssize_t got = recv(fd, head + length, sizeof(head) - 1 - length, 0);

		if (got <= 0)
			return false;
		length += (size_t)got;
		head[length] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	memset(request, 0, sizeof(*request));
	sscanf(head, "%7s %127s", request->method, request->path);
	fake_parse_query(request);
	fake_header(head, "If-None-Match", request->if_none_match, sizeof(request->if_none_match));
	fake_header(head, "Idempotency-Key", request->idempotency_key,
		    sizeof(request->idempotency_key));
	fake_header(head, "Authorization", request->authorization, sizeof(request->authorization));
	fake_header(head, "Content-Length", value, sizeof(value));
	body_length = atol(value) - (long)(length - (size_t)(end + 4 - head));
	while (body_length > 0) {
		ssize_t got = recv(fd, head, sizeof(head), 0);

		if (got <= 0)
			return false;
		body_length -= got;
	}
	return true;
}

static void *fake_serve_connection(void *data)
{
	int fd = (int)(intptr_t)data;
	struct fake_request request;

	while (fake_read_request(fd, &request)) {
		struct fake_response response = {.status = 200, .headers = ""};
		fake_responder respond;
		char head[512];
		int nth;

		pthread_mutex_lock(&fake.lock);
		nth = fake.request_count;
		if (fake.request_count < FAKE_MAX_REQUESTS)
			fake.requests[fake.request_count++] = request;
		respond = fake.respond;
		pthread_mutex_unlock(&fake.lock);
		respond(&request, nth, &response);
		if (response.delay_ms > 0)
			nanosleep(&(struct timespec){0, response.delay_ms * 1000000L}, NULL);
		if (response.drop)
			break;
		snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\n%sContent-Length: %zu\r\n\r\n",
			 response.status, response.headers,
			 response.status == 304 ? 0 : strlen(response.body));
		if (send(fd, head, strlen(head), MSG_NOSIGNAL) < 0 ||
		    (response.status != 304 &&
		     send(fd, response.body, strlen(response.body), MSG_NOSIGNAL) < 0))
			break;
	}
	close(fd);
	return NULL;
}

static void *fake_accept(void *unused)
{
	for (;;) {
		int fd = accept(fake.listener, NULL, NULL);
		pthread_t thread;

		if (fd < 0)
			return unused;
		pthread_mutex_lock(&fake.lock);
		if (fake.stopped || fake.connection_count == FAKE_MAX_CONNECTIONS) {
			pthread_mutex_unlock(&fake.lock);
			close(fd);
			continue;
		}
		fake.connections[fake.connection_count++] = fd;
		pthread_mutex_unlock(&fake.lock);
		pthread_create(&thread, NULL, fake_serve_connection, (void *)(intptr_t)fd);
		pthread_detach(thread);
	}
}

static void fake_start(void)
{
	struct sockaddr_in address = {.sin_family = AF_INET};
	socklen_t length = sizeof(address);
	pthread_t thread;

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake.listener = socket(AF_INET, SOCK_STREAM, 0);
	if (fake.listener < 0 || bind(fake.listener, (struct sockaddr *)&address, length) != 0 ||
	    listen(fake.listener, 64) != 0 ||
	    getsockname(fake.listener, (struct sockaddr *)&address, &length) != 0) {
		perror("fake server");
		exit(1);
	}
	fake.port = ntohs(address.sin_port);
	pthread_create(&thread, NULL, fake_accept, NULL);
	pthread_detach(thread);
}

/* Refuses new connections and cuts the open ones, as a stopped service does. */
static void fake_stop(void)
{
	pthread_mutex_lock(&fake.lock);
	fake.stopped = true;
	shutdown(fake.listener, SHUT_RDWR);
	close(fake.listener);
	for (int i = 0; i < fake.connection_count; i++)
		shutdown(fake.connections[i], SHUT_RDWR);
	pthread_mutex_unlock(&fake.lock);
}

/* Forgets the requests so far and answers the next ones with respond. */
static void fake_script(fake_responder respond)
{
	pthread_mutex_lock(&fake.lock);
	fake.respond = respond;
	fake.request_count = 0;
	pthread_mutex_unlock(&fake.lock);
}

static int fake_requests(void)
{
	int count;

	pthread_mutex_lock(&fake.lock);
	count = fake.request_count;
	pthread_mutex_unlock(&fake.lock);
	return count;
}

static struct fake_request fake_request_at(int nth)
{
	struct fake_request request;

	pthread_mutex_lock(&fake.lock);
	request = fake.requests[nth];
	pthread_mutex_unlock(&fake.lock);
	return request;
}

static struct rr_client *client_for_test(long list_ttl_seconds)
{
	char origin[64];
	struct rr_client_options options = {
	    .origin = origin,
	    .token = own_text,
	    .timeout_seconds = 3,
	    .list_ttl_seconds = list_ttl_seconds,
	};

	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d/", fake.port);
	return rr_client_new(&options);
}

/* The body of one token as the API describes it; with text its "token" too. */
static void token_json(char *out, size_t size, int i, bool with_text, int64_t expires)
{
	char expiry[32] = "null";

	if (expires != 0)
		snprintf(expiry, sizeof(expiry), "%lld", (long long)expires);
	if (with_text)
		snprintf(out, size,
			 "{\"id\": \"%s\", \"created\": 100, \"expires\": %s, "
			 "\"token\": \"%s\"}",
			 ids[i], expiry, texts[i]);
	else
		snprintf(out, size, "{\"id\": \"%s\", \"created\": 100, \"expires\": %s}", ids[i],
			 expiry);
}

static void listing_json(char *out, size_t size, int count, bool with_text)
{
	size_t used = (size_t)snprintf(out, size, "{\"tokens\": [");

	for (int i = 0; i < count; i++) {
		char token[512];

		token_json(token, sizeof(token), i, with_text, 0);
		used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", token);
	}
	snprintf(out + used, size - used, "]}");
}

/*
 * The reference behaviour of a server that does not page (it ignores limit
 * and after): the listing (ETag "e1"), single tokens, creates and revokes.
 */
static void respond_normally(const struct fake_request *request, int nth,
			     struct fake_response *response)
{
	if (request->listing && !request->with_token) {
		response->headers = "ETag: \"e1\"\r\n";
		if (strcmp(request->if_none_match, "\"e1\"") == 0)
			response->status = 304;
		listing_json(response->body, sizeof(response->body), TOKEN_COUNT, false);
	} else if (request->listing) {
		response->headers = "ETag: \"e2\"\r\n";
		listing_json(response->body, sizeof(response->body), TOKEN_COUNT, true);
	} else if (strncmp(request->path, "/token/", 7) == 0) {
		for (int i = 0; i < TOKEN_COUNT; i++)
			if (strcmp(request->path + 7, ids[i]) == 0)
				token_json(response->body, sizeof(response->body), i, true, 0);
		if (response->body[0] == '\0') {
			response->status = 404;
			snprintf(response->body, sizeof(response->body),
				 "{\"error_message\": \"not found\"}");
		}
	} else if (strcmp(request->path, "/tokens") == 0) {
		response->status = 201;
		token_json(response->body, sizeof(response->body), 0, true, FAR_FUTURE);
	} else if (strncmp(request->path, "/revoke/", 8) == 0) {
		snprintf(response->body, sizeof(response->body), "{}");
	} else {
		response->status = 404;
	}
}

static void test_one_listing_answers_list_and_get_for_list_ttl(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token tokens[TOKEN_COUNT + 1];
	struct rr_token token;
	size_t count = 0;

	fake_script(respond_normally);
	check("list",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT);
	check("list again",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT);
	check("get of a listed token", rr_client_token_get(client, "lookup", ids[1], &token) == 0 &&
					   strcmp(token.id, ids[1]) == 0 && token.created == 100 &&
					   token.expires == 0);
	check("get of an id not listed is ENOENT",
	      rr_client_token_get(client, "lookup", unknown_id, &token) == -ENOENT);
	check("get of a name that is no id is ENOENT",
	      rr_client_token_get(client, "lookup", ".Trash-1000", &token) == -ENOENT);
	check("one request in all", fake_requests() == 1);
	rr_client_free(client);
}

static void test_a_stale_listing_is_revalidated_with_its_etag(void)
{
	struct rr_client *client = client_for_test(0);
	struct rr_token tokens[TOKEN_COUNT + 1];
	size_t count = 0;

	fake_script(respond_normally);
	rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count);
	check("a 304 keeps the listing",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT);
	check("two requests", fake_requests() == 2);
	check("the first without If-None-Match", fake_request_at(0).if_none_match[0] == '\0');
	check("the second with the ETag", strcmp(fake_request_at(1).if_none_match, "\"e1\"") == 0);
	rr_client_free(client);
}

static void test_a_cold_read_of_one_token_is_one_request(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token token;
	char *text = NULL;
	size_t length = 0;

	fake_script(respond_normally);
	check("get", rr_client_token_get(client, "lookup", ids[2], &token) == 0);
	check("text", rr_client_token_text(client, "read", ids[2], &text, &length) == 0 &&
			  length == strlen(texts[2]) && strcmp(text, texts[2]) == 0);
	secret_free(text);
	check("one GET /token/ID",
	      fake_requests() == 1 && strncmp(fake_request_at(0).path, "/token/", 7) == 0);
	check("a token that is gone is ENOENT",
	      rr_client_token_get(client, "lookup", unknown_id, &token) == -ENOENT);
	rr_client_free(client);
}

/* Lists, then reads the text of every token listed; how many texts were read. */
static size_t read_every_text(struct rr_client *client)
{
	struct rr_token tokens[TOKEN_COUNT + 1];
	size_t count = 0;
	size_t read = 0;

	rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count);
	for (size_t i = 0; i < count; i++) {
		char *text = NULL;
		size_t length;

		if (rr_client_token_text(client, "read", tokens[i].id, &text, &length) == 0)
			read++;
		secret_free(text);
	}
	return read;
}

static void test_reading_every_text_after_a_listing_is_one_bulk_request(void)
{
	struct rr_client *client = client_for_test(30);

	fake_script(respond_normally);
	check("every text read", read_every_text(client) == TOKEN_COUNT);
	check("a listing and one bulk request",
	      fake_requests() == 2 && fake_request_at(1).with_token);
	rr_client_free(client);
}

/* The bulk request fails; single tokens are still answered. */
static void respond_without_bulk(const struct fake_request *request, int nth,
				 struct fake_response *response)
{
	respond_normally(request, nth, response);
	if (request->with_token) {
		response->status = 500;
		snprintf(response->body, sizeof(response->body), "{\"error_message\": \"boom\"}");
	}
}

static void test_a_failed_bulk_request_is_not_repeated_for_each_text(void)
{
	struct rr_client *client = client_for_test(30);

	fake_script(respond_without_bulk);
	check("every text read one by one", read_every_text(client) == TOKEN_COUNT);
	check("one bulk request, then one request per text",
	      fake_requests() == 2 + TOKEN_COUNT && fake_request_at(1).with_token &&
		  strncmp(fake_request_at(2).path, "/token/", 7) == 0);
	rr_client_free(client);
}

static void respond_slowly(const struct fake_request *request, int nth,
			   struct fake_response *response)
{
	respond_normally(request, nth, response);
	response->delay_ms = 200;
}

static struct rr_client *shared_client;
static int shared_successes;

static void *read_token_zero(void *unused)
{
	char *text = NULL;
	size_t length;

	if (rr_client_token_text(shared_client, "read", ids[0], &text, &length) == 0 &&
	    strcmp(text, texts[0]) == 0) {
		pthread_mutex_lock(&fake.lock);
		shared_successes++;
		pthread_mutex_unlock(&fake.lock);
	}
	secret_free(text);
	return unused;
}

static void test_concurrent_readers_of_one_token_share_one_request(void)
{
	pthread_t threads[50];

	shared_client = client_for_test(30);
	fake_script(respond_slowly);
	for (int i = 0; i < 50; i++)
		pthread_create(&threads[i], NULL, read_token_zero, NULL);
	for (int i = 0; i < 50; i++)
		pthread_join(threads[i], NULL);
	check("every reader got the text", shared_successes == 50);
	check("one request", fake_requests() == 1);
	rr_client_free(shared_client);
}

/* The first POST /tokens is received, and its answer lost. */
static void respond_losing_the_first_create(const struct fake_request *request, int nth,
					    struct fake_response *response)
{
	respond_normally(request, nth, response);
	response->drop = nth == 0;
}

static void test_a_lost_create_is_retried_with_the_same_idempotency_key(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token token;
	char *text = NULL;
	size_t length;

	fake_script(respond_losing_the_first_create);
	check("create", rr_client_token_create(client, "mkdir", 3600, &token) == 0 &&
			    strcmp(token.id, ids[0]) == 0 && token.expires == FAR_FUTURE);
	check("sent twice", fake_requests() == 2);
	check("with one Idempotency-Key", strlen(fake_request_at(0).idempotency_key) == 32 &&
					      strcmp(fake_request_at(0).idempotency_key,
						     fake_request_at(1).idempotency_key) == 0);
	check("the new token's text is cached",
	      rr_client_token_text(client, "read", ids[0], &text, &length) == 0 &&
		  fake_requests() == 2);
	secret_free(text);
	rr_client_free(client);
}

static void test_two_creates_use_two_keys(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token token;

	fake_script(respond_normally);
	rr_client_token_create(client, "mkdir", 60, &token);
	rr_client_token_create(client, "mkdir", 60, &token);
	check("two keys", fake_requests() == 2 && strcmp(fake_request_at(0).idempotency_key,
							 fake_request_at(1).idempotency_key) != 0);
	check("no duration, no request",
	      rr_client_token_create(client, "mkdir", 0, &token) == -EINVAL &&
		  fake_requests() == 2);
	rr_client_free(client);
}

static void test_revoke(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token tokens[TOKEN_COUNT + 1];
	struct rr_token token;
	char removed[4][RR_TOKEN_ID_LENGTH + 1];
	size_t count;

	fake_script(respond_normally);
	check("the own token is EBUSY", rr_client_token_revoke(client, "rmdir", own_id) == -EBUSY);
	check("own token known",
	      rr_client_is_own_token(client, own_id) && !rr_client_is_own_token(client, ids[0]));
	rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count);
	check("an id not listed is ENOENT",
	      rr_client_token_revoke(client, "rmdir", unknown_id) == -ENOENT);
	check("no request for either", fake_requests() == 1);
	check("revoke", rr_client_token_revoke(client, "rmdir", ids[1]) == 0);
	check("POST /revoke/ID", fake_requests() == 2 &&
				     strcmp(fake_request_at(1).method, "POST") == 0 &&
				     strncmp(fake_request_at(1).path, "/revoke/", 8) == 0);
	check("gone at once", rr_client_token_get(client, "lookup", ids[1], &token) == -ENOENT &&
				  fake_requests() == 2);
	check("not reported: the kernel knows",
	      rr_client_collect_removed(client, time(NULL), removed, 4) == 0);
	rr_client_free(client);
}

static void test_a_token_revoked_without_rmdir_is_reported_when_asked(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token tokens[TOKEN_COUNT + 1];
	char removed[4][RR_TOKEN_ID_LENGTH + 1];
	size_t count;

	fake_script(respond_normally);
	rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count);
	check("revoked, not reported",
	      rr_client_token_revoke(client, "renew", ids[1]) == 0 &&
		  rr_client_collect_removed(client, time(NULL), removed, 4) == 0);
	rr_client_report_gone(client, ids[1]);
	check("reported when asked",
	      rr_client_collect_removed(client, time(NULL), removed, 4) == 1 &&
		  strcmp(removed[0], ids[1]) == 0);
	check("and once", rr_client_collect_removed(client, time(NULL), removed, 4) == 0);
	rr_client_free(client);
}

static const char *new_text = "new.token.text";
static int rejected_calls;

/* 401 to the old token, the reference behaviour to any other. */
static void respond_to_the_new_token_only(const struct fake_request *request, int nth,
					  struct fake_response *response)
{
	char old[64];

	snprintf(old, sizeof(old), "Bearer %s", own_text);
	if (strcmp(request->authorization, old) != 0) {
		respond_normally(request, nth, response);
		return;
	}
	response->status = 401;
	snprintf(response->body, sizeof(response->body),
		 "{\"error_message\": \"wrong authorization token\"}");
}

static void switch_to_the_new_token(void *user)
{
	rejected_calls++;
	rr_client_set_token(user, new_text);
}

static void test_a_401_is_sent_again_with_the_token_the_handler_gives(void)
{
	struct rr_client *client = client_for_test(0);
	struct rr_token tokens[TOKEN_COUNT + 1];
	char new_id[RR_TOKEN_ID_LENGTH + 1];
	char id[RR_TOKEN_ID_LENGTH + 1];
	size_t count;

	token_id_compute(new_text, strlen(new_text), new_id);
	fake_script(respond_to_the_new_token_only);
	check("without a handler a 401 is EACCES",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == -EACCES &&
		  fake_requests() == 1);
	fake_script(respond_to_the_new_token_only);
	rejected_calls = 0;
	rr_client_on_token_rejected(client, switch_to_the_new_token, client);
	check("the handler's token answers the same call",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT && fake_requests() == 2 && rejected_calls == 1);
	check("sent with the new token",
	      strcmp(fake_request_at(1).authorization, "Bearer new.token.text") == 0);
	rr_client_own_id(client, id);
	check("the new token is the own one", strcmp(id, new_id) == 0 &&
						  rr_client_is_own_token(client, new_id) &&
						  !rr_client_is_own_token(client, own_id));
	check("the new token is EBUSY", rr_client_token_revoke(client, "rmdir", new_id) == -EBUSY);
	check("the next call needs no handler",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  rejected_calls == 1);
	check("setting the token in use changes nothing",
	      rr_client_set_token(client, new_text) == 0);
	check("nothing that is no JWT", rr_client_set_token(client, "a\r\nb") == -EINVAL);
	rr_client_on_token_rejected(client, NULL, NULL);
	rr_client_free(client);
}

/* The listing loses token 2 after the first answer. */
static void respond_with_one_token_gone(const struct fake_request *request, int nth,
					struct fake_response *response)
{
	respond_normally(request, nth, response);
	if (nth > 0) {
		response->status = 200;
		response->headers = "ETag: \"e3\"\r\n";
		listing_json(response->body, sizeof(response->body), TOKEN_COUNT - 1, false);
	}
}

static void test_tokens_gone_or_expired_are_collected(void)
{
	struct rr_client *client = client_for_test(0);
	struct rr_token tokens[TOKEN_COUNT + 1];
	struct rr_token made;
	char removed[4][RR_TOKEN_ID_LENGTH + 1];
	size_t count;

	fake_script(respond_with_one_token_gone);
	rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count);
	check("the refresh drops it",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT - 1);
	check("reported once", rr_client_collect_removed(client, time(NULL), removed, 4) == 1 &&
				   strcmp(removed[0], ids[TOKEN_COUNT - 1]) == 0 &&
				   rr_client_collect_removed(client, time(NULL), removed, 4) == 0);
	fake_script(respond_normally);
	rr_client_token_create(client, "mkdir", 3600, &made);
	check("an expired token is reported",
	      rr_client_collect_removed(client, FAR_FUTURE, removed, 4) == 1 &&
		  strcmp(removed[0], ids[0]) == 0);
	rr_client_free(client);
}

/* The tokens in id order, as the pages of a listing have them. */
static int by_id[TOKEN_COUNT];

/*
 * One page of the listing of the tokens not in gone: those after the
 * request's after, at most page_size of them, with "next" where more follow.
 */
static void page_json(const struct fake_request *request, struct fake_response *response,
		      int page_size, int gone)
{
	size_t size = sizeof(response->body);
	size_t used = (size_t)snprintf(response->body, size, "{\"tokens\": [");
	int listed = 0;
	int last = -1;

	for (int k = 0; k < TOKEN_COUNT; k++) {
		int i = by_id[k];
		char token[512];

		if (i == gone || (request->after[0] != '\0' && strcmp(ids[i], request->after) <= 0))
			continue;
		if (listed == page_size) {
			used += (size_t)snprintf(response->body + used, size - used,
						 "], \"next\": \"%s\"}", ids[last]);
			return;
		}
		token_json(token, sizeof(token), i, request->with_token, 0);
		used += (size_t)snprintf(response->body + used, size - used, "%s%s",
					 listed++ ? ", " : "", token);
		last = i;
	}
	snprintf(response->body + used, size - used, "]}");
}

/* A server that pages, one token a page: ETag "p1" (with texts "p2") on every page. */
static void respond_in_pages(const struct fake_request *request, int nth,
			     struct fake_response *response)
{
	respond_normally(request, nth, response);
	if (!request->listing)
		return;
	response->status = 200;
	response->headers = request->with_token ? "ETag: \"p2\"\r\n" : "ETag: \"p1\"\r\n";
	if (!request->with_token && strcmp(request->if_none_match, "\"p1\"") == 0)
		response->status = 304;
	page_json(request, response, 1, -1);
}

static void test_a_paged_listing_is_read_page_by_page(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token tokens[TOKEN_COUNT + 1];
	size_t count = 0;

	fake_script(respond_in_pages);
	check("every page's tokens listed",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT);
	check("one request a page", fake_requests() == TOKEN_COUNT);
	check("the first page asks for a limit",
	      strcmp(fake_request_at(0).path, "/tokens?limit=1000") == 0);
	check("each next page starts after the one before",
	      strcmp(fake_request_at(1).after, ids[by_id[0]]) == 0 &&
		  strcmp(fake_request_at(2).after, ids[by_id[1]]) == 0 &&
		  strcmp(fake_request_at(2).limit, "1000") == 0);
	rr_client_free(client);
}

static void test_a_304_to_the_first_page_keeps_the_whole_listing(void)
{
	struct rr_client *client = client_for_test(0);
	struct rr_token tokens[TOKEN_COUNT + 1];
	size_t count = 0;

	fake_script(respond_in_pages);
	rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count);
	check("a 304 keeps the listing",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT);
	check("one request for the revalidation", fake_requests() == TOKEN_COUNT + 1);
	check("only the first page of the walk carried the ETag",
	      fake_request_at(0).if_none_match[0] == '\0' &&
		  fake_request_at(1).if_none_match[0] == '\0' &&
		  strcmp(fake_request_at(TOKEN_COUNT).if_none_match, "\"p1\"") == 0 &&
		  fake_request_at(TOKEN_COUNT).after[0] == '\0');
	rr_client_free(client);
}

static void test_reading_every_text_walks_the_pages_with_texts_once(void)
{
	struct rr_client *client = client_for_test(30);

	fake_script(respond_in_pages);
	check("every text read", read_every_text(client) == TOKEN_COUNT);
	check("a walk of the listing and one of the listing with texts",
	      fake_requests() == 2 * TOKEN_COUNT && !fake_request_at(TOKEN_COUNT - 1).with_token &&
		  fake_request_at(TOKEN_COUNT).with_token &&
		  fake_request_at(2 * TOKEN_COUNT - 1).with_token &&
		  fake_request_at(2 * TOKEN_COUNT - 1).if_none_match[0] == '\0');
	rr_client_free(client);
}

/* The mount starts with the whole listing, so that a cold ls asks nothing more. */
static void test_the_check_walks_every_page(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token tokens[TOKEN_COUNT + 1];
	char message[512];
	size_t count = 0;

	fake_script(respond_in_pages);
	check("accepted", rr_client_check(client, message, sizeof(message)) == 0);
	check("a request a page", fake_requests() == TOKEN_COUNT);
	check("the listing is cached: a cold ls asks nothing",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT && fake_requests() == TOKEN_COUNT);
	rr_client_free(client);
}

/* The first page is of the whole listing; then the token first in id order is revoked. */
static void respond_changing_after_the_first_page(const struct fake_request *request, int nth,
						  struct fake_response *response)
{
	respond_in_pages(request, nth, response);
	if (!request->listing || nth == 0)
		return;
	response->headers = "ETag: \"p3\"\r\n";
	page_json(request, response, 1, by_id[0]);
}

static void test_a_listing_changed_during_the_walk_is_walked_again(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token tokens[TOKEN_COUNT + 1];
	size_t count = 0;

	fake_script(respond_changing_after_the_first_page);
	check("the listing as it is now",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT - 1 && strcmp(tokens[0].id, ids[by_id[1]]) == 0);
	check("two pages of the first walk, two of the second",
	      fake_requests() == 4 && fake_request_at(2).after[0] == '\0');
	rr_client_free(client);
}

static char changing_etags[FAKE_MAX_REQUESTS][32];

/* Every page carries another ETag: a listing that never holds still. */
static void respond_always_changing(const struct fake_request *request, int nth,
				    struct fake_response *response)
{
	respond_in_pages(request, nth, response);
	if (!request->listing || nth >= FAKE_MAX_REQUESTS)
		return;
	snprintf(changing_etags[nth], sizeof(changing_etags[nth]), "ETag: \"c%d\"\r\n", nth);
	response->headers = changing_etags[nth];
}

static void test_a_listing_that_never_holds_still_is_eio_after_a_few_walks(void)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token tokens[TOKEN_COUNT + 1];
	size_t count = 0;

	fake_script(respond_always_changing);
	check("EIO",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == -EIO);
	check("three walks of two pages each", fake_requests() == 6);
	rr_client_free(client);
}

static const char *page_answer;

/* The first page is page_answer, whatever the request. */
static void respond_with_the_page(const struct fake_request *request, int nth,
				  struct fake_response *response)
{
	respond_in_pages(request, nth, response);
	if (request->listing)
		snprintf(response->body, sizeof(response->body), "%s", page_answer);
}

static int page_errno(const char *body)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token tokens[TOKEN_COUNT + 1];
	size_t count;
	int error;

	page_answer = body;
	fake_script(respond_with_the_page);
	error = rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count);
	rr_client_free(client);
	return error;
}

/* A first page of the tokens first and second (in id order: 0, 1, 2) naming next. */
static const char *two_on_a_page(int first, int second, int next)
{
	static char body[1024];

	snprintf(body, sizeof(body),
		 "{\"tokens\": [{\"id\": \"%s\", \"created\": 1, \"expires\": null}, "
		 "{\"id\": \"%s\", \"created\": 1, \"expires\": null}], \"next\": \"%s\"}",
		 ids[by_id[first]], ids[by_id[second]], ids[by_id[next]]);
	return body;
}

static void test_pages_that_could_skip_tokens_or_loop_are_eio(void)
{
	static char empty[256];

	/* Its second page is the first again: its ids do not come after the first's next. */
	check("ids in order, next the last",
	      page_errno(two_on_a_page(0, 1, 1)) == -EIO && fake_requests() == 2);
	check("next not the page's last id",
	      page_errno(two_on_a_page(0, 1, 0)) == -EIO && fake_requests() == 1);
	check("next beyond the page's last id",
	      page_errno(two_on_a_page(0, 1, 2)) == -EIO && fake_requests() == 1);
	check("ids not going up",
	      page_errno(two_on_a_page(1, 0, 0)) == -EIO && fake_requests() == 1);
	snprintf(empty, sizeof(empty), "{\"tokens\": [], \"next\": \"%s\"}", ids[by_id[0]]);
	check("a page without tokens that names a next",
	      page_errno(empty) == -EIO && fake_requests() == 1);
}

static int status_answer;
static const char *headers_answer;
static const char *body_answer;

static void respond_with_the_answer(const struct fake_request *request, int nth,
				    struct fake_response *response)
{
	response->status = status_answer;
	response->headers = headers_answer;
	snprintf(response->body, sizeof(response->body), "%s", body_answer);
}

static int list_errno(int status, const char *headers, const char *body)
{
	struct rr_client *client = client_for_test(30);
	struct rr_token tokens[TOKEN_COUNT + 1];
	size_t count;
	int error;

	status_answer = status;
	headers_answer = headers;
	body_answer = body;
	fake_script(respond_with_the_answer);
	error = rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count);
	rr_client_free(client);
	return error;
}

static void test_answers_map_to_errno(void)
{
	check("401",
	      list_errno(401, "", "{\"error_message\": \"wrong authorization token\"}") == -EACCES);
	check("403 without credit", list_errno(403, "X-RateLimit-Remaining: 0\r\n",
					       "{\"error_message\": \"limit\"}") == -EAGAIN);
	check("503", list_errno(503, "", "") == -EIO);
	check("200 that is not JSON", list_errno(200, "", "<html></html>") == -EIO);
	check("204", list_errno(204, "", "") == -EIO);
	check("200 with a bad id", list_errno(200, "",
					      "{\"tokens\": [{\"id\": \"x\", "
					      "\"created\": 1, \"expires\": null}]}") == -EIO);
}

static void test_check_says_why_in_one_line(void)
{
	struct rr_client *client = client_for_test(30);
	char message[512];

	status_answer = 401;
	headers_answer = "";
	body_answer = "{\"error_message\": \"wrong authorization token\"}";
	fake_script(respond_with_the_answer);
	check("rejected",
	      rr_client_check(client, message, sizeof(message)) == -EACCES &&
		  strstr(message, "rejected the token: wrong authorization token") != NULL &&
		  strchr(message, '\n') == NULL);
	fake_script(respond_normally);
	check("accepted", rr_client_check(client, message, sizeof(message)) == 0);
	rr_client_free(client);
}

static void test_a_stopped_service_gets_cached_answers_for_reads(void)
{
	struct rr_client *client = client_for_test(0);
	struct rr_token tokens[TOKEN_COUNT + 1];
	struct rr_token token;
	size_t count = 0;
	char message[512];

	fake_script(respond_normally);
	rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count);
	fake_stop();
	check("list from cache",
	      rr_client_list(client, "readdir", NULL, tokens, TOKEN_COUNT + 1, &count) == 0 &&
		  count == TOKEN_COUNT);
	check("get from cache", rr_client_token_get(client, "lookup", ids[0], &token) == 0);
	check("create is ECONNREFUSED",
	      rr_client_token_create(client, "mkdir", 60, &token) == -ECONNREFUSED);
	check("check cannot reach", rr_client_check(client, message, sizeof(message)) != 0 &&
					strstr(message, "cannot reach") != NULL);
	rr_client_free(client);
}

int main(void)
{
	log_init("test_client", false);
	token_id_compute(own_text, strlen(own_text), own_id);
	for (int i = 0; i < TOKEN_COUNT; i++) {
		snprintf(texts[i], sizeof(texts[i]), "header.payload%d.signature", i);
		token_id_compute(texts[i], strlen(texts[i]), ids[i]);
	}
	for (int i = 0; i < TOKEN_COUNT; i++) {
		int k = i;

		for (; k > 0 && strcmp(ids[by_id[k - 1]], ids[i]) > 0; k--)
			by_id[k] = by_id[k - 1];
		by_id[k] = i;
	}
	fake_start();
	test_one_listing_answers_list_and_get_for_list_ttl();
	test_a_stale_listing_is_revalidated_with_its_etag();
	test_a_cold_read_of_one_token_is_one_request();
	test_reading_every_text_after_a_listing_is_one_bulk_request();
	test_a_failed_bulk_request_is_not_repeated_for_each_text();
	test_concurrent_readers_of_one_token_share_one_request();
	test_a_lost_create_is_retried_with_the_same_idempotency_key();
	test_two_creates_use_two_keys();
	test_revoke();
	test_a_token_revoked_without_rmdir_is_reported_when_asked();
	test_a_401_is_sent_again_with_the_token_the_handler_gives();
	test_tokens_gone_or_expired_are_collected();
	test_a_paged_listing_is_read_page_by_page();
	test_a_304_to_the_first_page_keeps_the_whole_listing();
	test_reading_every_text_walks_the_pages_with_texts_once();
	test_the_check_walks_every_page();
	test_a_listing_changed_during_the_walk_is_walked_again();
	test_a_listing_that_never_holds_still_is_eio_after_a_few_walks();
	test_pages_that_could_skip_tokens_or_loop_are_eio();
	test_answers_map_to_errno();
	test_check_says_why_in_one_line();
	/* Last: it stops the server. */
	test_a_stopped_service_gets_cached_answers_for_reads();
	return harness_result();
}
