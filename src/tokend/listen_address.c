/* Checks and resolves the address of --listen; see listen_address.h. */
#include "listen_address.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

/* Splits "HOST:PORT" or "[HOST]:PORT"; display keeps the brackets for the URL. */
static int listen_address_split(const char *listen, char *host, char *display, char *port)
{
	const char *colon;
	size_t host_length;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		host_length = (size_t)(close - listen - 1);
		if (host_length == 0 || host_length >= LISTEN_ADDRESS_HOST_MAX)
			return -EINVAL;
		memcpy(host, listen + 1, host_length);
		host[host_length] = '\0';
		snprintf(display, LISTEN_ADDRESS_DISPLAY_MAX, "[%s]", host);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL || colon == listen ||
		    memchr(listen, ':', (size_t)(colon - listen)))
			return -EINVAL;
		host_length = (size_t)(colon - listen);
		if (host_length >= LISTEN_ADDRESS_HOST_MAX)
			return -EINVAL;
		memcpy(host, listen, host_length);
		host[host_length] = '\0';
		strcpy(display, host);
	}
	if (colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5 || atoi(colon + 1) > 65535)
		return -EINVAL;
	strcpy(port, colon + 1);
	return 0;
}

int listen_address_resolve(const char *listen, struct addrinfo **address, char *display)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	char host[LISTEN_ADDRESS_HOST_MAX];
	char port[8];
	int rc;

	if (listen_address_split(listen, host, display, port) < 0) {
		log_error("--listen %s: expected HOST:PORT or [IPV6]:PORT", listen);
		return -EINVAL;
	}
	rc = getaddrinfo(host, port, &hints, address);
	if (rc != 0) {
		log_error("--listen %s: %s", listen, gai_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

bool listen_address_is_valid(const char *listen)
{
	char display[LISTEN_ADDRESS_DISPLAY_MAX];
	struct addrinfo *address;

	if (listen_address_resolve(listen, &address, display) < 0)
		return false;
	freeaddrinfo(address);
	return true;
}
