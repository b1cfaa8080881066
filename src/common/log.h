/*
 * One log for each program: stderr in the foreground, syslog once the
 * driver has daemonized. Callers never pass token text.
 */
#ifndef RR_COMMON_LOG_H
#define RR_COMMON_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* ident prefixes every line ("rerobotsfs: ..."); with use_syslog lines go to syslog. */
void log_init(const char *ident, bool use_syslog);

void log_message(int priority, const char *format, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)	 log_message(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_message(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	 log_message(LOG_INFO, __VA_ARGS__)

#endif
