/*
 * libFuzzer target: everything rerobots-tokend reads from a request, through
 * api_handle as server.c calls it: the method, the path and the token id in
 * it, the Authorization header (Bearer parsing, then the JWT), If-None-Match,
 * Idempotency-Key, ?with_token, the paging parameters ?limit and ?after, and
 * the JSON body of POST /tokens.
 *
 * Input: one flags byte, then the fields separated by NUL bytes, in order
 * path, authorization, if_none_match, idempotency_key, with_token, body,
 * limit, after.
 * Flags: bits 0-1 the method (GET, HEAD, POST, another), bit 2 sends a valid
 * token of user "fuzz" instead of the authorization field, so that the
 * fuzzer reaches past authentication; bits 3-6 leave out the header or
 * query fields (sent as absent, NULL) one by one; bit 7 sends limit and
 * after, which are left out otherwise (so that inputs written before they
 * existed keep their meaning).
 *
 * The service's state is a data directory made at start in $TMPDIR (tests/fuzz/run
 * points it at /dev/shm where it can, since every token made is written with
 * fsync, and removes it: libFuzzer ends a timed run with _Exit, so the atexit
 * removal here only serves other runs). A request that could revoke the fuzz token (POST
 * /revoke/..., /purge) is followed by a fresh token, and the tokens piling
 * up are purged now and then, so that every input meets the same service.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "log.h"
#include "secret.h"

#define FUZZ_USER	 "fuzz"
#define FUZZ_FIELDS	 8
#define FUZZ_PURGE_EVERY 256
#define FUZZ_BEARER	 "Bearer "

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api fuzz_api;
static char fuzz_dir[4096];
static char *fuzz_authorization;
static unsigned long fuzz_runs;

static void fuzz_remove_dir(void)
{
	char path[sizeof(fuzz_dir) + 256];
	struct dirent *entry;
	DIR *dir = opendir(fuzz_dir);

	if (dir == NULL)
		return;
	while ((entry = readdir(dir)) != NULL) {
		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir, entry->d_name);
		unlink(path);
	}
	closedir(dir);
	rmdir(fuzz_dir);
}

static void fuzz_new_token(void)
{
	struct store_token token;
	enum store_replay replay;

	secret_free(fuzz_authorization);
	fuzz_authorization = NULL;
	if (api_make_token(&fuzz_api, FUZZ_USER, time(NULL), 3600, NULL, &token, &replay) != 0)
		abort();
	fuzz_authorization = malloc(strlen(FUZZ_BEARER) + strlen(token.text) + 1);
	if (fuzz_authorization == NULL)
		abort();
	strcpy(fuzz_authorization, FUZZ_BEARER);
	strcat(fuzz_authorization, token.text);
	secret_free((char *)token.text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";

	log_init("fuzz_tokend_request", false);
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/rerobots-fuzz-XXXXXX", base);
	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	atexit(fuzz_remove_dir);
	fuzz_api.rate_limit = INT32_MAX;
	fuzz_api.max_duration = 365 * 24 * 3600;
	if (store_open(NULL, fuzz_dir, &fuzz_api.store) != 0 ||
	    signer_open(fuzz_dir, &fuzz_api.signer) != 0 ||
	    auth_new(fuzz_api.store, fuzz_api.signer, &fuzz_api.auth) != 0 ||
	    api_limits_new(&fuzz_api) != 0 || listing_cache_new(&fuzz_api.listings) != 0)
		abort();
	fuzz_new_token();
	return 0;
}

/* Splits data at NUL bytes into at most FUZZ_FIELDS NUL-terminated copies; missing ones are "". */
static char *fuzz_split(const uint8_t *data, size_t size, char *fields[FUZZ_FIELDS])
{
	char *copy = malloc(size + FUZZ_FIELDS);
	size_t field = 0;

	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	memset(copy + size, 0, FUZZ_FIELDS);
	fields[0] = copy;
	for (size_t i = 0; i < size && field + 1 < FUZZ_FIELDS; i++)
		if (copy[i] == '\0')
			fields[++field] = copy + i + 1;
	while (++field < FUZZ_FIELDS)
		fields[field] = copy + size + field;
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "DELETE"};
	char *fields[FUZZ_FIELDS];
	struct api_request request;
	struct api_response response;
	uint8_t flags;
	char *copy;

	if (size == 0)
		return 0;
	flags = data[0];
	copy = fuzz_split(data + 1, size - 1, fields);
	request = (struct api_request){
	    .method = methods[flags & 3],
	    .path = fields[0],
	    .authorization = (flags & 4) ? fuzz_authorization : fields[1],
	    .if_none_match = fields[2],
	    .idempotency_key = fields[3],
	    .with_token = fields[4],
	    .body = fields[5],
	    .body_length = strlen(fields[5]),
	};
	if ((flags & 8) && !(flags & 4))
		request.authorization = NULL;
	if (flags & 16)
		request.if_none_match = NULL;
	if (flags & 32)
		request.idempotency_key = NULL;
	if (flags & 64)
		request.with_token = NULL;
	if (flags & 128) {
		request.limit = fields[6];
		request.after = fields[7];
	}
	api_handle(&fuzz_api, &request, &response);
	if (response.status < 200 || response.status > 599 ||
	    (response.body == NULL && response.status != 304))
		abort();
	if (response.body != NULL) {
		json_error_t error;
		json_t *body = json_loads(response.body, 0, &error);

		/* Every answer of the service is a JSON object. */
		if (!json_is_object(body))
			abort();
		json_decref(body);
	}
	secret_free(response.body);
	if (strcmp(request.method, "POST") == 0 &&
	    (strncmp(request.path, "/revoke/", 8) == 0 || strcmp(request.path, "/purge") == 0))
		fuzz_new_token();
	free(copy);
	if (++fuzz_runs % FUZZ_PURGE_EVERY == 0) {
		store_token_purge(fuzz_api.store, FUZZ_USER, time(NULL));
		auth_forget_user(fuzz_api.auth, FUZZ_USER);
		fuzz_new_token();
	}
	return 0;
}
