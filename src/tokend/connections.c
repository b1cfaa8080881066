/* The open connections and the request deadline's watchdog; see connections.h. */
#include "connections.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

#define CONNECTIONS_WATCHDOG_INTERVAL 1

/*
 * An open connection, from libmicrohttpd's start notification to its close
 * notification, which comes before the socket is closed: while one is in
 * the list (under the lock), its fd is still its own.
 */
struct connection {
	struct connection *previous;
	struct connection *next;
	unsigned long number;
	int fd;
	/* When the connection opened or its previous answer was sent. */
	struct timespec waiting_since;
	/* The request has arrived whole and is being answered. */
	bool answering;
	bool shut_down;
};

void connections_init(struct connections *connections, unsigned int request_timeout)
{
	connections->request_timeout = request_timeout;
	pthread_mutex_init(&connections->lock, NULL);
}

void connections_destroy(struct connections *connections)
{
	pthread_mutex_destroy(&connections->lock);
}

static struct connection *connections_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info == NULL ? NULL : info->socket_context;
}

unsigned long connections_number(struct MHD_Connection *connection)
{
	const struct connection *tracked = connections_of(connection);

	return tracked == NULL ? 0 : tracked->number;
}

void connections_set_answering(struct connections *connections, struct MHD_Connection *connection,
			       bool answering)
{
	struct connection *tracked = connections_of(connection);

	if (tracked == NULL)
		return;
	pthread_mutex_lock(&connections->lock);
	tracked->answering = answering;
	clock_gettime(CLOCK_MONOTONIC, &tracked->waiting_since);
	pthread_mutex_unlock(&connections->lock);
}

static void connections_track(struct connections *connections, struct MHD_Connection *connection,
			      void **socket_context)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct connection *tracked = calloc(1, sizeof(*tracked));

	if (tracked == NULL || info == NULL) {
		/* Untracked, it still has libmicrohttpd's idle timeout. */
		free(tracked);
		return;
	}
	tracked->fd = info->connect_fd;
	clock_gettime(CLOCK_MONOTONIC, &tracked->waiting_since);
	pthread_mutex_lock(&connections->lock);
	tracked->number = ++connections->count;
	tracked->next = connections->list;
	if (tracked->next != NULL)
		tracked->next->previous = tracked;
	connections->list = tracked;
	pthread_mutex_unlock(&connections->lock);
	*socket_context = tracked;
	log_info("connection %lu accepted", tracked->number);
}

static void connections_forget(struct connections *connections, void **socket_context)
{
	struct connection *tracked = *socket_context;

	if (tracked == NULL)
		return;
	pthread_mutex_lock(&connections->lock);
	if (tracked->previous != NULL)
		tracked->previous->next = tracked->next;
	else
		connections->list = tracked->next;
	if (tracked->next != NULL)
		tracked->next->previous = tracked->previous;
	pthread_mutex_unlock(&connections->lock);
	free(tracked);
	*socket_context = NULL;
}

void connections_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		connections_track(cls, connection, socket_context);
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		connections_forget(cls, socket_context);
}

/*
 * libmicrohttpd's own timeout restarts with every byte, so a client that
 * trickles a header line now and then holds its connection for ever. The
 * watchdog counts from the connection's start or its previous answer
 * instead, and shuts down the socket of a request not whole in time:
 * libmicrohttpd then reads its end and closes the connection itself.
 */
static void connections_shut_down_late(struct connections *connections, const struct timespec *now)
{
	pthread_mutex_lock(&connections->lock);
	for (struct connection *tracked = connections->list; tracked != NULL;
	     tracked = tracked->next) {
		if (tracked->answering || tracked->shut_down ||
		    now->tv_sec - tracked->waiting_since.tv_sec < connections->request_timeout)
			continue;
		/* Logged first, so that a client that sees its connection end finds the line. */
		log_info("connection %lu closed: its request did not arrive within %u s",
			 tracked->number, connections->request_timeout);
		shutdown(tracked->fd, SHUT_RDWR);
		tracked->shut_down = true;
	}
	pthread_mutex_unlock(&connections->lock);
}

static void *connections_watchdog(void *argument)
{
	struct connections *connections = argument;
	struct timespec now, wakeup;

	pthread_mutex_lock(&connections->lock);
	while (!connections->stopping) {
		pthread_mutex_unlock(&connections->lock);
		clock_gettime(CLOCK_MONOTONIC, &now);
		connections_shut_down_late(connections, &now);
		wakeup = now;
		wakeup.tv_sec += CONNECTIONS_WATCHDOG_INTERVAL;
		pthread_mutex_lock(&connections->lock);
		if (!connections->stopping)
			pthread_cond_timedwait(&connections->watchdog_wakeup, &connections->lock,
					       &wakeup);
	}
	pthread_mutex_unlock(&connections->lock);
	return NULL;
}

int connections_start_watchdog(struct connections *connections)
{
	pthread_condattr_t attributes;
	int err;

	pthread_condattr_init(&attributes);
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	pthread_cond_init(&connections->watchdog_wakeup, &attributes);
	pthread_condattr_destroy(&attributes);
	err = pthread_create(&connections->watchdog, NULL, connections_watchdog, connections);
	if (err != 0) {
		pthread_cond_destroy(&connections->watchdog_wakeup);
		log_error("cannot start the watchdog thread: %s", strerror(err));
		return -EIO;
	}
	connections->watchdog_running = true;
	return 0;
}

void connections_stop_watchdog(struct connections *connections)
{
	if (!connections->watchdog_running)
		return;
	pthread_mutex_lock(&connections->lock);
	connections->stopping = true;
	pthread_cond_signal(&connections->watchdog_wakeup);
	pthread_mutex_unlock(&connections->lock);
	pthread_join(connections->watchdog, NULL);
	pthread_cond_destroy(&connections->watchdog_wakeup);
	connections->watchdog_running = false;
}
