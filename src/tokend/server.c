/*
 * libmicrohttpd glue; see server.h.
 *
 *     $ rerobots-tokend --data /var/lib/rerobots-tokend --listen 127.0.0.1:8080
 *     rerobots-tokend: listening on http://127.0.0.1:8080
 *     rerobots-tokend: connection 1 accepted
 *     rerobots-tokend: GET /tokens 200 alice 0.4ms conn=1
 *
 * A request's life: server_begin_request (MHD's URI log callback) makes its
 * context and the loggable copy of the URI, server_handle is called once
 * for the headers, once per piece of body and once more to answer, and
 * server_end_request frees the context.
 *
 * Elsewhere: the request log's line and its copy of the URI (accesslog.c),
 * the open connections and the request deadline's watchdog (connections.c),
 * the --listen address (listen_address.c).
 */
#include "server.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "accesslog.h"
#include "connections.h"
#include "listen_address.h"
#include "log.h"
#include "secret.h"

#define SERVER_THREADS_MIN  2
#define SERVER_THREADS_MAX  8
#define SERVER_IDLE_TIMEOUT 30
/* Descriptors besides the connections: the listening socket, epoll and
 * signalling pipes of each thread, SQLite's files, the log. */
#define SERVER_FILES_RESERVED 64

struct server {
	struct api *api;
	struct MHD_Daemon *daemon;
	char *tls_cert;
	char *tls_key;
	struct connections connections;
};

struct server_request {
	struct timespec start;
	bool headers_seen;
	bool too_large;
	char *body;
	size_t body_length;
	char log_uri[ACCESSLOG_URI_MAX + 1];
};

static void *server_begin_request(void *cls, const char *uri, struct MHD_Connection *connection)
{
	struct server_request *request = calloc(1, sizeof(*request));

	if (request == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &request->start);
	accesslog_uri(uri, request->log_uri);
	return request;
}

static void server_end_request(void *cls, struct MHD_Connection *connection, void **req_cls,
			       enum MHD_RequestTerminationCode code)
{
	struct server *server = cls;
	struct server_request *request = *req_cls;

	connections_set_answering(&server->connections, connection, false);
	if (request == NULL)
		return;
	free(request->body);
	free(request);
	*req_cls = NULL;
}

static void server_free_body(void *body)
{
	secret_free(body);
}

static bool server_add_headers(struct MHD_Response *reply, const struct api_response *response)
{
	char number[32];
	bool ok = true;

	if (response->body != NULL)
		ok &= MHD_add_response_header(reply, "Content-Type", "application/json") == MHD_YES;
	if (response->etag[0] != '\0')
		ok &= MHD_add_response_header(reply, "ETag", response->etag) == MHD_YES;
	if (response->allow != NULL)
		ok &= MHD_add_response_header(reply, "Allow", response->allow) == MHD_YES;
	if (response->rate_known) {
		snprintf(number, sizeof(number), "%ld", response->rate.limit);
		ok &= MHD_add_response_header(reply, "X-RateLimit-Limit", number) == MHD_YES;
		snprintf(number, sizeof(number), "%ld", response->rate.remaining);
		ok &= MHD_add_response_header(reply, "X-RateLimit-Remaining", number) == MHD_YES;
		snprintf(number, sizeof(number), "%lld", (long long)response->rate.reset);
		ok &= MHD_add_response_header(reply, "X-RateLimit-Reset", number) == MHD_YES;
	}
	return ok;
}

/* Queues the response and logs the request; takes the body. */
static enum MHD_Result server_respond(struct MHD_Connection *connection,
				      const struct server_request *request, const char *method,
				      struct api_response *response)
{
	struct MHD_Response *reply;
	enum MHD_Result result = MHD_NO;

	if (response->body != NULL)
		reply = MHD_create_response_from_buffer_with_free_callback(
		    strlen(response->body), response->body, server_free_body);
	else
		reply = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (reply == NULL) {
		secret_free(response->body);
		return MHD_NO;
	}
	/* Logged before the response can leave, so a client that has its
	 * answer finds the request in the log. */
	accesslog_request(method, request->log_uri, &request->start, response,
			  connections_number(connection));
	if (server_add_headers(reply, response))
		result = MHD_queue_response(connection, response->status, reply);
	MHD_destroy_response(reply);
	return result;
}

static const char *server_header(struct MHD_Connection *connection, const char *name)
{
	return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
}

static bool server_declares_too_large(struct MHD_Connection *connection)
{
	const char *length = server_header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return length != NULL && strtoull(length, NULL, 10) > SERVER_BODY_MAX;
}

/*
 * Keeps a piece of body. A chunked body that grows over the limit is read
 * to its end and dropped, since libmicrohttpd only takes a response before
 * or after the upload; the idle timeout bounds a client that never ends.
 */
static bool server_take_body(struct server_request *request, const char *data, size_t size)
{
	char *grown;

	if (request->too_large || request->body_length + size > SERVER_BODY_MAX) {
		request->too_large = true;
		return true;
	}
	grown = realloc(request->body, request->body_length + size);
	if (grown == NULL)
		return false;
	memcpy(grown + request->body_length, data, size);
	request->body = grown;
	request->body_length += size;
	return true;
}

static enum MHD_Result server_count_authorization(void *cls, enum MHD_ValueKind kind,
						  const char *key, const char *value)
{
	unsigned int *count = cls;

	if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0)
		(*count)++;
	return MHD_YES;
}

/* Which of two credentials counts is anybody's guess between a proxy and us: neither does. */
static bool server_has_one_authorization_at_most(struct MHD_Connection *connection)
{
	unsigned int count = 0;

	MHD_get_connection_values(connection, MHD_HEADER_KIND, server_count_authorization, &count);
	return count <= 1;
}

static enum MHD_Result server_respond_error(struct MHD_Connection *connection,
					    const struct server_request *request,
					    const char *method, unsigned int status,
					    const char *message)
{
	struct api_response response;

	memset(&response, 0, sizeof(response));
	api_set_error(&response, status, message);
	return server_respond(connection, request, method, &response);
}

static enum MHD_Result server_respond_too_large(struct MHD_Connection *connection,
						const struct server_request *request,
						const char *method)
{
	return server_respond_error(connection, request, method, MHD_HTTP_CONTENT_TOO_LARGE,
				    "the body is over 64 KiB");
}

/*
 * The client's address as failed authentications are counted: an IPv4
 * address, or the /64 network of an IPv6 one, since a single host is
 * commonly given a whole /64 to pick addresses from.
 */
static void server_client_key(struct MHD_Connection *connection, char *key, size_t size)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *address = info == NULL ? NULL : info->client_addr;
	struct in6_addr network;

	snprintf(key, size, "unknown");
	if (address != NULL && address->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)address)->sin_addr, key,
			  (socklen_t)size);
	} else if (address != NULL && address->sa_family == AF_INET6) {
		network = ((const struct sockaddr_in6 *)address)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&network)) {
			inet_ntop(AF_INET, &network.s6_addr[12], key, (socklen_t)size);
			return;
		}
		memset(&network.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &network, key, (socklen_t)size);
		strncat(key, "/64", size - strlen(key) - 1);
	}
}

static enum MHD_Result server_handle(void *cls, struct MHD_Connection *connection, const char *url,
				     const char *method, const char *version,
				     const char *upload_data, size_t *upload_data_size,
				     void **req_cls)
{
	struct server *server = cls;
	struct server_request *request = *req_cls;
	char client[INET6_ADDRSTRLEN + sizeof("/64")];
	struct api_response response;
	struct api_request api_request;

	if (request == NULL)
		return MHD_NO;
	if (!request->headers_seen) {
		request->headers_seen = true;
		/* A declared body over the limit is refused before it is read;
		 * libmicrohttpd then closes the connection. */
		if (server_declares_too_large(connection)) {
			connections_set_answering(&server->connections, connection, true);
			return server_respond_too_large(connection, request, method);
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (!server_take_body(request, upload_data, *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	connections_set_answering(&server->connections, connection, true);
	if (request->too_large)
		return server_respond_too_large(connection, request, method);
	if (!server_has_one_authorization_at_most(connection))
		return server_respond_error(connection, request, method, MHD_HTTP_BAD_REQUEST,
					    "more than one Authorization header");

	server_client_key(connection, client, sizeof(client));
	api_request = (struct api_request){
	    .client = client,
	    .method = method,
	    .path = url,
	    .authorization = server_header(connection, MHD_HTTP_HEADER_AUTHORIZATION),
	    .if_none_match = server_header(connection, MHD_HTTP_HEADER_IF_NONE_MATCH),
	    .idempotency_key = server_header(connection, "Idempotency-Key"),
	    .with_token =
		MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "with_token"),
	    .limit = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "limit"),
	    .after = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "after"),
	    .body = request->body,
	    .body_length = request->body_length,
	};
	api_handle(server->api, &api_request, &response);
	return server_respond(connection, request, method, &response);
}

__attribute__((format(printf, 2, 0))) static void server_log_library(void *cls, const char *format,
								     va_list arguments)
{
	char message[512];
	size_t length;

	vsnprintf(message, sizeof(message), format, arguments);
	length = strlen(message);
	while (length > 0 && message[length - 1] == '\n')
		message[--length] = '\0';
	log_warning("libmicrohttpd: %s", message);
}

static char *server_read_file(const char *path)
{
	FILE *file = fopen(path, "re");
	char *content = NULL;
	size_t size = 0;

	if (file == NULL) {
		log_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (getdelim(&content, &size, '\0', file) < 0) {
		log_error("%s: cannot read it", path);
		free(content);
		content = NULL;
	}
	fclose(file);
	return content;
}

/* libmicrohttpd shares the connection limit out among its threads: each gets one at least. */
static unsigned int server_thread_count(unsigned int max_connections)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int count;

	if (cpus < SERVER_THREADS_MIN)
		count = SERVER_THREADS_MIN;
	else
		count = cpus > SERVER_THREADS_MAX ? SERVER_THREADS_MAX : (unsigned int)cpus;
	return count < max_connections ? count : max_connections;
}

static int server_load_tls(struct server *server, const struct server_options *options)
{
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		log_error("this libmicrohttpd was built without TLS");
		return -EIO;
	}
	server->tls_cert = server_read_file(options->tls_cert);
	server->tls_key = server_read_file(options->tls_key);
	return server->tls_cert != NULL && server->tls_key != NULL ? 0 : -EIO;
}

/*
 * Every connection takes a descriptor; past the soft limit, accept fails
 * and libmicrohttpd stops taking anyone. Raises the soft limit to what
 * max_connections needs, or says why it cannot.
 */
static int server_reserve_files(unsigned int max_connections)
{
	rlim_t needed = (rlim_t)max_connections + SERVER_FILES_RESERVED;
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
		log_error("cannot read the open file limit: %s", strerror(errno));
		return -EIO;
	}
	if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed)
		return 0;
	if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
		log_error("--max-connections %u needs %llu open files, over the hard limit of %llu "
			  "(ulimit -Hn)",
			  max_connections, (unsigned long long)needed,
			  (unsigned long long)limit.rlim_max);
		return -EMFILE;
	}
	limit.rlim_cur = needed;
	if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
		log_error("cannot raise the open file limit to %llu: %s",
			  (unsigned long long)needed, strerror(errno));
		return -EIO;
	}
	return 0;
}

int server_start(struct api *api, const struct server_options *options, struct server **result)
{
	struct server *server = calloc(1, sizeof(*server));
	char display[LISTEN_ADDRESS_DISPLAY_MAX];
	struct addrinfo *address = NULL;
	const union MHD_DaemonInfo *info;
	bool tls = options->tls_cert != NULL;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int err = -EIO;

	if (server == NULL)
		return -ENOMEM;
	server->api = api;
	connections_init(&server->connections, options->request_timeout);
	err = server_reserve_files(options->max_connections);
	if (err < 0)
		goto out_err;
	err = listen_address_resolve(options->listen, &address, display);
	if (err < 0)
		goto out_err;
	if (tls) {
		err = server_load_tls(server, options);
		if (err < 0)
			goto out_err;
		flags |= MHD_USE_TLS;
	}
	if (address->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	/* Without TLS the list ends at once. */
	struct MHD_OptionItem tls_options[] = {
	    {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, server->tls_cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, server->tls_key},
	    {MHD_OPTION_END, 0, NULL},
	};
	/* The logger comes first so that no option's complaint bypasses it. */
	server->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, server_handle, server, MHD_OPTION_EXTERNAL_LOGGER,
	    server_log_library, server, MHD_OPTION_SOCK_ADDR, address->ai_addr,
	    MHD_OPTION_THREAD_POOL_SIZE, server_thread_count(options->max_connections),
	    MHD_OPTION_CONNECTION_LIMIT, options->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, options->max_connections_per_address,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)SERVER_IDLE_TIMEOUT,
	    MHD_OPTION_URI_LOG_CALLBACK, server_begin_request, server, MHD_OPTION_NOTIFY_COMPLETED,
	    server_end_request, server, MHD_OPTION_NOTIFY_CONNECTION, connections_notify,
	    &server->connections, MHD_OPTION_ARRAY, tls_options, MHD_OPTION_END);
	if (server->daemon == NULL) {
		log_error("cannot listen on %s", options->listen);
		err = -EIO;
		goto out_err;
	}
	err = connections_start_watchdog(&server->connections);
	if (err < 0)
		goto out_err;
	info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
	log_info("listening on %s://%s:%u", tls ? "https" : "http", display,
		 info == NULL ? 0 : (unsigned int)info->port);
	freeaddrinfo(address);
	*result = server;
	return 0;

out_err:
	if (address != NULL)
		freeaddrinfo(address);
	server_stop(server);
	return err;
}

void server_stop(struct server *server)
{
	if (server == NULL)
		return;
	connections_stop_watchdog(&server->connections);
	if (server->daemon != NULL)
		MHD_stop_daemon(server->daemon);
	connections_destroy(&server->connections);
	free(server->tls_cert);
	secret_free(server->tls_key);
	free(server);
}
