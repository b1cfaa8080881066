/* The single flights of the client's requests; see flight.h. */
#include "flight.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "secret.h"

void flight_init(struct flights *flights, pthread_mutex_t *lock)
{
	memset(flights, 0, sizeof(*flights));
	flights->lock = lock;
	pthread_cond_init(&flights->landed, NULL);
}

void flight_destroy(struct flights *flights)
{
	free(flights->changes);
	pthread_cond_destroy(&flights->landed);
}

void flight_listing_begin(struct flights *flights)
{
	flights->listing_in_flight = true;
	flights->change_count = 0;
}

void flight_listing_land(struct flights *flights, int result)
{
	flights->listing_in_flight = false;
	flights->change_count = 0;
	flights->listing_result = result;
	flights->listing_generation++;
	pthread_cond_broadcast(&flights->landed);
}

int flight_listing_wait(struct flights *flights)
{
	uint64_t generation = flights->listing_generation;

	while (flights->listing_generation == generation)
		pthread_cond_wait(&flights->landed, flights->lock);
	return flights->listing_result;
}

void flight_record_change(struct flights *flights, const char *id, bool created)
{
	struct cache_change *changes;

	if (!flights->listing_in_flight)
		return;
	changes = grow_array(flights->changes, &flights->change_capacity, flights->change_count + 1,
			     sizeof(*changes), 8);
	if (changes == NULL)
		return;
	flights->changes = changes;
	memcpy(flights->changes[flights->change_count].id, id, RR_TOKEN_ID_LENGTH + 1);
	flights->changes[flights->change_count++].created = created;
}

struct flight_text *flight_text_join(struct flights *flights, const char *id, bool *owner)
{
	struct flight_text *flight;

	for (flight = flights->texts; flight != NULL; flight = flight->next)
		if (strcmp(flight->id, id) == 0)
			break;
	if (flight != NULL) {
		*owner = false;
		flight->users++;
		while (!flight->done)
			pthread_cond_wait(&flights->landed, flights->lock);
		return flight;
	}
	flight = calloc(1, sizeof(*flight));
	if (flight == NULL)
		return NULL;
	*owner = true;
	memcpy(flight->id, id, RR_TOKEN_ID_LENGTH + 1);
	flight->users = 1;
	flight->next = flights->texts;
	flights->texts = flight;
	return flight;
}

int flight_text_keep(struct flight_text *flight, const struct decoded_token *token)
{
	char *text = secret_dup(token->text, token->text_length);

	if (text == NULL)
		return -ENOMEM;
	flight->token = *token;
	flight->token.text = text;
	return 0;
}

void flight_text_land(struct flights *flights, struct flight_text *flight, int result)
{
	struct flight_text **link = &flights->texts;

	while (*link != flight)
		link = &(*link)->next;
	*link = flight->next;
	flight->done = true;
	flight->result = result;
	pthread_cond_broadcast(&flights->landed);
}

void flight_text_release(struct flight_text *flight)
{
	if (--flight->users > 0)
		return;
	secret_free((char *)flight->token.text);
	free(flight);
}
