/*
 * rerobots-tokend: the reference token service of rerobots-tokend(8), serving
 * the API of docs/openapi.yaml.
 *
 *     $ rerobots-tokend --data ~/tokend --add-user alice
 *     eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9...
 *     $ rerobots-tokend --data ~/tokend --listen 127.0.0.1:8080
 *     rerobots-tokend: listening on http://127.0.0.1:8080
 *     $ rerobots-tokend --db postgresql://tokend@db/tokend --listen 127.0.0.1:8080
 *
 * This file reads the command line, bootstraps users, and runs the service
 * until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "api.h"
#include "datadir.h"
#include "duration.h"
#include "listen_address.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "version.h"

#define MAIN_EXIT_USAGE				 2
#define MAIN_DEFAULT_MAX_DURATION		 (365 * 24 * 3600)
#define MAIN_DEFAULT_RATE_LIMIT			 3600
#define MAIN_DEFAULT_MAX_CONNECTIONS		 512
#define MAIN_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 32
/* Enough for a person mistyping or a mount retrying a stale token, far from a guessing attack. */
#define MAIN_DEFAULT_AUTH_FAILURE_LIMIT 100
/* As libmicrohttpd's idle timeout: a well-behaved client sees no change. */
#define MAIN_DEFAULT_REQUEST_TIMEOUT 30
#define MAIN_MAX_REQUEST_TIMEOUT     3600
/* Far above what one process can hold open. */
#define MAIN_COUNT_MAX 1000000

struct main_options {
	const char *data_dir;
	const char *db_url;
	const char *add_user;
	int64_t duration;
	int64_t max_duration;
	long rate_limit;
	long auth_failure_limit;
	bool duration_given;
	struct server_options server;
};

static const char main_usage[] =
    "usage: rerobots-tokend (--data DIR | --db URL) --listen HOST:PORT [--rate-limit N]\n"
    "                       [--auth-failure-limit N] [--max-duration D]\n"
    "                       [--tls-cert FILE --tls-key FILE]\n"
    "                       [--max-connections N] [--max-connections-per-address N]\n"
    "                       [--request-timeout D]\n"
    "       rerobots-tokend (--data DIR | --db URL) --add-user NAME [--duration D]\n"
    "       rerobots-tokend --version | --help\n"
    "\n"
    "Serves the rerobots token API (v1) from the state in DIR or a database, or\n"
    "makes a token for NAME and prints it. Durations are like 90s, 1h30m, 7d, 2w.\n"
    "\n"
    "  --data DIR          state: tokens.db and signing-key.pem (created where missing)\n"
    "  --db URL            sqlite:PATH (default: DIR/tokens.db, the key in DIR) or\n"
    "                      postgresql://... (everything in the database; PG* variables\n"
    "                      fill what the URL omits; any number of replicas)\n"
    "  --listen HOST:PORT  address to serve on; port 0 picks a free one\n"
    "  --add-user NAME     make a token for NAME, print it and exit\n"
    "  --duration D        validity of the --add-user token (default 24h)\n"
    "  --max-duration D    longest validity a client may ask for (default 365d)\n"
    "  --rate-limit N      requests per hour per user, all its tokens together\n"
    "                      (default 3600)\n"
    "  --auth-failure-limit N\n"
    "                      failed authentications per hour per client address\n"
    "                      (default 100)\n"
    "  --tls-cert FILE     serve HTTPS with this certificate (PEM)...\n"
    "  --tls-key FILE      ...and this private key (PEM)\n"
    "  --max-connections N open connections at most (default 512)\n"
    "  --max-connections-per-address N\n"
    "                      open connections at most from one client address (default 32)\n"
    "  --request-timeout D time a request may take to arrive, however it trickles\n"
    "                      (default 30s)\n"
    "  -V, --version       show the versions of the service and its libraries\n"
    "  -h, --help          show this help\n";

/* One line on stderr and exit status 2, as for any bad command line. */
__attribute__((noreturn, format(printf, 1, 2))) static void main_usage_error(const char *format,
									     ...)
{
	char message[512];
	va_list arguments;

	va_start(arguments, format);
	vsnprintf(message, sizeof(message), format, arguments);
	va_end(arguments);
	fprintf(stderr, "rerobots-tokend: %s (see --help)\n", message);
	exit(MAIN_EXIT_USAGE);
}

static int64_t main_parse_duration(const char *option, const char *text)
{
	int64_t seconds;

	if (duration_parse(text, &seconds) < 0)
		main_usage_error("%s %s: not a duration like 90s, 1h30m, 7d or 2w", option, text);
	return seconds;
}

static long main_parse_count(const char *option, const char *text, long max)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < 1 || value > max)
		main_usage_error("%s %s: not a whole number from 1 to %ld", option, text, max);
	return value;
}

static void main_parse(int argc, char **argv, struct main_options *options)
{
	enum {
		DATA = 256,
		DB,
		LISTEN,
		ADD_USER,
		DURATION,
		MAX_DURATION,
		RATE_LIMIT,
		TLS_CERT,
		TLS_KEY,
		MAX_CONNECTIONS,
		MAX_CONNECTIONS_PER_ADDRESS,
		REQUEST_TIMEOUT,
		AUTH_FAILURE_LIMIT
	};
	static const struct option long_options[] = {
	    {"data", required_argument, NULL, DATA},
	    {"db", required_argument, NULL, DB},
	    {"listen", required_argument, NULL, LISTEN},
	    {"add-user", required_argument, NULL, ADD_USER},
	    {"duration", required_argument, NULL, DURATION},
	    {"max-duration", required_argument, NULL, MAX_DURATION},
	    {"rate-limit", required_argument, NULL, RATE_LIMIT},
	    {"tls-cert", required_argument, NULL, TLS_CERT},
	    {"tls-key", required_argument, NULL, TLS_KEY},
	    {"max-connections", required_argument, NULL, MAX_CONNECTIONS},
	    {"max-connections-per-address", required_argument, NULL, MAX_CONNECTIONS_PER_ADDRESS},
	    {"request-timeout", required_argument, NULL, REQUEST_TIMEOUT},
	    {"auth-failure-limit", required_argument, NULL, AUTH_FAILURE_LIMIT},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int option;

	*options = (struct main_options){
	    .duration = API_DEFAULT_DURATION,
	    .max_duration = MAIN_DEFAULT_MAX_DURATION,
	    .rate_limit = MAIN_DEFAULT_RATE_LIMIT,
	    .auth_failure_limit = MAIN_DEFAULT_AUTH_FAILURE_LIMIT,
	    .server.max_connections = MAIN_DEFAULT_MAX_CONNECTIONS,
	    .server.max_connections_per_address = MAIN_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
	    .server.request_timeout = MAIN_DEFAULT_REQUEST_TIMEOUT,
	};
	opterr = 0;
	while ((option = getopt_long(argc, argv, ":hV", long_options, NULL)) != -1) {
		switch (option) {
		case DATA:
			options->data_dir = optarg;
			break;
		case DB:
			options->db_url = optarg;
			break;
		case LISTEN:
			options->server.listen = optarg;
			break;
		case ADD_USER:
			options->add_user = optarg;
			break;
		case DURATION:
			options->duration = main_parse_duration("--duration", optarg);
			options->duration_given = true;
			break;
		case MAX_DURATION:
			options->max_duration = main_parse_duration("--max-duration", optarg);
			break;
		case RATE_LIMIT:
			options->rate_limit = main_parse_count("--rate-limit", optarg, LONG_MAX);
			break;
		case AUTH_FAILURE_LIMIT:
			options->auth_failure_limit =
			    main_parse_count("--auth-failure-limit", optarg, LONG_MAX);
			break;
		case TLS_CERT:
			options->server.tls_cert = optarg;
			break;
		case TLS_KEY:
			options->server.tls_key = optarg;
			break;
		case MAX_CONNECTIONS:
			options->server.max_connections = (unsigned int)main_parse_count(
			    "--max-connections", optarg, MAIN_COUNT_MAX);
			break;
		case MAX_CONNECTIONS_PER_ADDRESS:
			options->server.max_connections_per_address =
			    (unsigned int)main_parse_count("--max-connections-per-address", optarg,
							   MAIN_COUNT_MAX);
			break;
		case REQUEST_TIMEOUT:
			options->server.request_timeout =
			    (unsigned int)main_parse_duration("--request-timeout", optarg);
			if (options->server.request_timeout > MAIN_MAX_REQUEST_TIMEOUT)
				main_usage_error("--request-timeout %s: longer than 1h", optarg);
			break;
		case 'h':
			fputs(main_usage, stdout);
			exit(0);
		case 'V':
			printf("rerobots-tokend version %s\n", rr_version);
			printf("libmicrohttpd version %s\n", MHD_get_version());
			printf("SQLite version %s\n", sqlite3_libversion());
			/* 150020 is 15.20: since version 10, major * 10000 + minor. */
			printf("libpq version %d.%d\n", PQlibVersion() / 10000,
			       PQlibVersion() % 10000);
			printf("Jansson version %s\n", JANSSON_VERSION);
			exit(0);
		case ':':
			main_usage_error("%s needs a value", argv[optind - 1]);
		default:
			main_usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		main_usage_error("unexpected argument %s", argv[optind]);
	if (options->db_url != NULL && !store_url_is_shared(options->db_url) &&
	    (strncmp(options->db_url, "sqlite:", 7) != 0 || options->db_url[7] == '\0'))
		main_usage_error("--db %s: give sqlite:PATH or postgresql://...", options->db_url);
	if (options->data_dir == NULL && !store_url_is_shared(options->db_url))
		main_usage_error("--data DIR is required, unless --db names PostgreSQL");
	if ((options->add_user == NULL) == (options->server.listen == NULL))
		main_usage_error("give either --listen HOST:PORT or --add-user NAME");
	if (options->add_user != NULL && !api_user_name_is_valid(options->add_user))
		main_usage_error("--add-user %s: a name is 1 to %d letters, digits or . _ @ + -",
				 options->add_user, SIGNER_USER_MAX);
	if (options->duration_given && options->add_user == NULL)
		main_usage_error("--duration is for --add-user; clients choose their own");
	if (options->add_user != NULL && options->duration > options->max_duration)
		main_usage_error("--duration is longer than --max-duration");
	if ((options->server.tls_cert == NULL) != (options->server.tls_key == NULL))
		main_usage_error("--tls-cert and --tls-key go together");
	if (options->server.listen != NULL && !listen_address_is_valid(options->server.listen))
		exit(MAIN_EXIT_USAGE);
}

/*
 * jansson holds token text while building responses; wiping each block it
 * frees keeps that text out of reused heap memory, as secret_free does for
 * our own buffers.
 */
static void main_json_free(void *block)
{
	if (block == NULL)
		return;
	explicit_bzero(block, malloc_usable_size(block));
	free(block);
}

/* The signing key of the database where it keeps one, else the file in dir. */
static int main_open_signer(struct api *api, const char *dir)
{
	size_t length = 0;
	char *pem = NULL;
	int err;

	err = store_signing_key(api->store, signer_make_pem, &pem, &length);
	if (err == -ENOTSUP)
		return signer_open(dir, &api->signer);
	if (err == 0)
		err = signer_open_pem(pem, length, &api->signer);
	secret_free(pem);
	return err;
}

static int main_add_user(struct api *api, const struct main_options *options)
{
	struct store_token token;
	enum store_replay replay;
	int err;

	err = api_make_token(api, options->add_user, time(NULL), options->duration, NULL, &token,
			     &replay);
	if (err < 0) {
		log_error("cannot make a token for %s", options->add_user);
		return err;
	}
	printf("%s\n", token.text);
	secret_free((char *)token.text);
	return fflush(stdout) == 0 ? 0 : -EIO;
}

/* Serves until SIGINT or SIGTERM, which no other thread ever takes: they
 * are blocked before any thread starts (threads inherit the mask), and
 * taken here with sigwait. */
static int main_serve(struct api *api, const struct main_options *options)
{
	struct server *server = NULL;
	sigset_t signals;
	int signal_number, err;

	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	err = auth_new(api->store, api->signer, &api->auth);
	if (err == 0)
		err = api_limits_new(api);
	if (err == 0)
		err = listing_cache_new(&api->listings);
	if (err == 0)
		err = store_watch_start(api->store);
	if (err == 0)
		err = server_start(api, &options->server, &server);
	if (err < 0)
		goto out;
	sigwait(&signals, &signal_number);
	log_info("shutting down on %s", strsignal(signal_number));
	server_stop(server);
out:
	listing_cache_free(api->listings);
	api_limits_free(api);
	auth_free(api->auth);
	return err;
}

int main(int argc, char **argv)
{
	struct main_options options;
	struct api api = {0};
	int err = 0;

	/* It holds the signing key and every token's text: no core dump or ptrace by another
	 * process of the same user may show them. */
	prctl(PR_SET_DUMPABLE, 0);
	log_init("rerobots-tokend", false);
	main_parse(argc, argv, &options);
	umask(077);
	json_set_alloc_funcs(malloc, main_json_free);

	api.rate_limit = options.rate_limit;
	api.auth_failure_limit = options.auth_failure_limit;
	api.max_duration = options.max_duration;
	if (options.data_dir != NULL)
		err = datadir_prepare(options.data_dir);
	if (err == 0)
		err = store_open(options.db_url, options.data_dir, &api.store);
	if (err == 0)
		err = main_open_signer(&api, options.data_dir);
	if (err == 0)
		err = options.add_user != NULL ? main_add_user(&api, &options)
					       : main_serve(&api, &options);
	signer_close(api.signer);
	store_close(api.store);
	return err < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
