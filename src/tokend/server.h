/*
 * HTTP(S) for the API: libmicrohttpd with a small thread pool, the
 * request log, and what must be answered before the API sees a request
 * (a body over 64 KiB: 413).
 *
 * Log lines (a contract: tests count requests and connections with them):
 *
 *     rerobots-tokend: connection 1 accepted
 *     rerobots-tokend: GET /tokens?with_token=1 200 alice 0.3ms conn=1
 *
 * USER is "-" when the request was not authenticated.
 */
#ifndef RR_TOKEND_SERVER_H
#define RR_TOKEND_SERVER_H

#include "api.h"

#define SERVER_BODY_MAX (64 * 1024)

struct server_options {
	/* "HOST:PORT" or "[IPV6]:PORT"; port 0 picks a free one. */
	const char *listen;
	/* Both set for HTTPS. */
	const char *tls_cert;
	const char *tls_key;
	/* Open connections at most, in all and from one client address. */
	unsigned int max_connections;
	unsigned int max_connections_per_address;
	/* Seconds a request (line, headers, body) may take to arrive, counted
	 * from the connection's start or its previous answer. */
	unsigned int request_timeout;
};

struct server;

/*
 * Starts serving and logs "listening on URL"; -EINVAL for a bad address,
 * -EMFILE when the open file limit cannot take max_connections, -EIO
 * otherwise.
 */
int server_start(struct api *api, const struct server_options *options, struct server **server);

/* Closes the connections and waits for the threads. */
void server_stop(struct server *server);

#endif
