/*
 * The server's open connections, each numbered for the log, and the
 * watchdog thread that closes one whose request has not arrived whole
 * within the deadline, counted from the connection's start or its
 * previous answer: libmicrohttpd's own timeout restarts with every byte.
 *
 *     rerobots-tokend: connection 1 accepted
 *     rerobots-tokend: connection 1 closed: its request did not arrive within 30 s
 */
#ifndef RR_TOKEND_CONNECTIONS_H
#define RR_TOKEND_CONNECTIONS_H

#include <pthread.h>
#include <stdbool.h>

#include <microhttpd.h>

struct connection;

struct connections {
	/* Guards the list, the count and stopping. */
	pthread_mutex_t lock;
	struct connection *list;
	unsigned long count;
	/* Seconds a request may take to arrive. */
	unsigned int request_timeout;
	pthread_t watchdog;
	bool watchdog_running;
	bool stopping;
	pthread_cond_t watchdog_wakeup;
};

/* An empty set; connections was zeroed. */
void connections_init(struct connections *connections, unsigned int request_timeout);

/* After the watchdog stopped and libmicrohttpd closed every connection. */
void connections_destroy(struct connections *connections);

/* libmicrohttpd's connection notification (MHD_OPTION_NOTIFY_CONNECTION), cls connections. */
void connections_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
			enum MHD_ConnectionNotificationCode code);

/* The number the log gives connection, 0 for one not tracked. */
unsigned long connections_number(struct MHD_Connection *connection);

/* The request on connection has arrived whole (answering) or was answered (waiting again). */
void connections_set_answering(struct connections *connections, struct MHD_Connection *connection,
			       bool answering);

/* 0, or -EIO after logging why the thread could not start. */
int connections_start_watchdog(struct connections *connections);

/* Stops the watchdog; one never started is left alone. */
void connections_stop_watchdog(struct connections *connections);

#endif
