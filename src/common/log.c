/* See log.h. Each line is written with one call so threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *log_ident = "rerobots";
static bool log_to_syslog;

void log_init(const char *ident, bool use_syslog)
{
	log_ident = ident;
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

void log_message(int priority, const char *format, ...)
{
	char line[1024];
	va_list args;

	va_start(args, format);
	vsnprintf(line, sizeof(line), format, args);
	va_end(args);

	if (log_to_syslog)
		syslog(priority, "%s", line);
	else
		fprintf(stderr, "%s: %s\n", log_ident, line);
}
