/* The project's error convention: a function that fails writes what is
 * wrong and where into the caller's buffer and returns -1.  A message that
 * does not fit is cut visibly: it ends in "…" (never in half a UTF-8
 * character). */
#ifndef SLUICE_ERRMSG_H
#define SLUICE_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>

/* "…", what a cut message ends with. */
#define SL_ERR_CUT "\xe2\x80\xa6"

/* Format into err (if err and errlen), return -1. */
int sl_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sl_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Append to what err holds (a message already cut stays as it is), return -1. */
int sl_adderr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sl_vadderr(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
