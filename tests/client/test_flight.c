/* The single flights: one request for many askers, and the changes a listing flight records. */
#include "flight.h"
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct flights flights;

struct waiter {
	bool owner;
	int result;
	char text[16];
};

static void *waiter_run(void *data)
{
	struct waiter *waiter = data;
	struct flight_text *flight;

	pthread_mutex_lock(&lock);
	flight = flight_text_join(&flights, ID_A, &waiter->owner);
	waiter->result = flight->result;
	if (flight->result == 0)
		snprintf(waiter->text, sizeof(waiter->text), "%s", flight->token.text);
	flight_text_release(flight);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void test_text_flight_shared(void)
{
	struct decoded_token token = {.id = ID_A, .created = 1, .text = "a.b.c", .text_length = 5};
	struct flight_text *flight;
	struct waiter waiter = {0};
	pthread_t thread;
	bool owner;

	pthread_mutex_lock(&lock);
	flight = flight_text_join(&flights, ID_A, &owner);
	check("text: the first asker owns the flight", flight != NULL && owner);
	pthread_mutex_unlock(&lock);
	pthread_create(&thread, NULL, waiter_run, &waiter);
	/* Lands only once the second asker waits on the flight. */
	for (unsigned users = 1; users < 2; usleep(1000)) {
		pthread_mutex_lock(&lock);
		users = flight->users;
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	check("text: the flight keeps a copy",
	      flight_text_keep(flight, &token) == 0 && flight->token.text != token.text);
	flight_text_land(&flights, flight, 0);
	flight_text_release(flight);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	check("text: a second asker waits and shares the result",
	      !waiter.owner && waiter.result == 0 && strcmp(waiter.text, "a.b.c") == 0);
	check("text: a landed flight is gone", flights.texts == NULL);
}

static bool listing_waiting;

static void *listing_waiter_run(void *data)
{
	int *result = data;

	pthread_mutex_lock(&lock);
	/* Set under the lock that the wait lets go: seen set, the waiter waits. */
	listing_waiting = true;
	*result = flight_listing_wait(&flights);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void test_listing_flight(void)
{
	pthread_t thread;
	int result = 0;

	pthread_mutex_lock(&lock);
	flight_record_change(&flights, ID_A, true);
	check("listing: no change recorded without a flight", flights.change_count == 0);
	flight_listing_begin(&flights);
	flight_record_change(&flights, ID_A, true);
	flight_record_change(&flights, ID_B, false);
	check("listing: changes recorded in flight",
	      flights.change_count == 2 && flights.changes[0].created &&
		  strcmp(flights.changes[1].id, ID_B) == 0 && !flights.changes[1].created);
	pthread_mutex_unlock(&lock);
	pthread_create(&thread, NULL, listing_waiter_run, &result);
	for (bool waiting = false; !waiting; usleep(1000)) {
		pthread_mutex_lock(&lock);
		waiting = listing_waiting;
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	flight_listing_land(&flights, -ETIMEDOUT);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	check("listing: a waiter gets the landing's result", result == -ETIMEDOUT);
	check("listing: landing forgets the changes",
	      !flights.listing_in_flight && flights.change_count == 0);
}

int main(void)
{
	flight_init(&flights, &lock);
	test_text_flight_shared();
	test_listing_flight();
	flight_destroy(&flights);
	return harness_result();
}
