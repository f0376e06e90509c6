/* The project's error convention: a function that fails writes what is
 * wrong and where into the caller's buffer and returns -1. */
#ifndef SLUICE_ERRMSG_H
#define SLUICE_ERRMSG_H

#include <stddef.h>

/* Format into err (if err and errlen), return -1. */
int sl_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
