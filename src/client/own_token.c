/*
 * The token the client authenticates with: its id, and the switch to a new
 * one (the token file rotated, the token renewed). Its own lock, so that a
 * switch never waits for the cache.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "client_private.h"
#include "token_id.h"

bool rr_client_is_own_token(struct rr_client *client, const char *id)
{
	bool own;

	if (id == NULL)
		return false;
	pthread_mutex_lock(&client->own_lock);
	own = strcmp(client->own_id, id) == 0;
	pthread_mutex_unlock(&client->own_lock);
	return own;
}

int rr_client_set_token(struct rr_client *client, const char *token)
{
	char id[RR_TOKEN_ID_LENGTH + 1];
	int switched = 0;

	if (token == NULL || !token_text_is_jwt(token, strlen(token)))
		return -EINVAL;
	if (token_id_compute(token, strlen(token), id) != 0)
		return -EIO;
	pthread_mutex_lock(&client->own_lock);
	if (strcmp(id, client->own_id) != 0) {
		switched = http_pool_set_token(client->http, token);
		if (switched == 0) {
			memcpy(client->own_id, id, sizeof(id));
			switched = 1;
		}
	}
	pthread_mutex_unlock(&client->own_lock);
	return switched;
}

void rr_client_own_id(struct rr_client *client, char *id)
{
	pthread_mutex_lock(&client->own_lock);
	memcpy(id, client->own_id, RR_TOKEN_ID_LENGTH + 1);
	pthread_mutex_unlock(&client->own_lock);
}

void rr_client_on_token_rejected(struct rr_client *client, void (*rejected)(void *user), void *user)
{
	http_pool_on_rejected(client->http, rejected, user);
}
