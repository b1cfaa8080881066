/* The project's version, for the --version of both programs. */
#ifndef RR_COMMON_VERSION_H
#define RR_COMMON_VERSION_H

extern const char rr_version[];

#endif
