/*
 * The address of --listen, "HOST:PORT" or "[IPV6]:PORT": checked, and
 * resolved into the address the server binds and the host its URL shows.
 */
#ifndef RR_TOKEND_LISTEN_ADDRESS_H
#define RR_TOKEND_LISTEN_ADDRESS_H

#include <stdbool.h>

#include <netdb.h>

#define LISTEN_ADDRESS_HOST_MAX 256
/* The host as a URL shows it: an IPv6 address in brackets. */
#define LISTEN_ADDRESS_DISPLAY_MAX (LISTEN_ADDRESS_HOST_MAX + 2)

/*
 * Resolves listen into *address (freed with freeaddrinfo) and display (of
 * LISTEN_ADDRESS_DISPLAY_MAX bytes); -EINVAL after logging why it cannot.
 */
int listen_address_resolve(const char *listen, struct addrinfo **address, char *display);

/* Whether listen is an address server_start can use; logs why not. */
bool listen_address_is_valid(const char *listen);

#endif
