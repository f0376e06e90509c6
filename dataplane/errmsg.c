#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errmsg.h"

#define CUT_LEN (sizeof(SL_ERR_CUT) - 1)

/* err[0..errlen) was filled to the brim: end it with "…" on a character
 * boundary. */
static void mark_cut(char *err, size_t errlen)
{
	size_t end;

	if (errlen < CUT_LEN + 1)
		return; /* no room for the mark: cut as it is */
	end = errlen - 1 - CUT_LEN;
	/* never leave the first bytes of a UTF-8 sequence behind */
	while (end > 0 && ((unsigned char)err[end] & 0xc0) == 0x80)
		end--;
	memcpy(err + end, SL_ERR_CUT, CUT_LEN + 1);
}

static int is_cut(const char *err, size_t len)
{
	return len >= CUT_LEN && !memcmp(err + len - CUT_LEN, SL_ERR_CUT, CUT_LEN);
}

int sl_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	int n;

	if (!err || !errlen)
		return -1;
	n = vsnprintf(err, errlen, fmt, ap);
	if (n < 0)
		err[0] = '\0';
	else if ((size_t)n >= errlen)
		mark_cut(err, errlen);
	return -1;
}

int sl_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_vseterr(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int sl_vadderr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	size_t len;
	int n;

	if (!err || !errlen)
		return -1;
	len = strnlen(err, errlen);
	if (len == errlen) { /* not a string: make it one, visibly cut */
		err[errlen - 1] = '\0';
		mark_cut(err, errlen);
		return -1;
	}
	/* a message cut already stays as it is: nothing may follow its "…" (a
	 * cut backs off at most 3 bytes for a character boundary) */
	if (is_cut(err, len) && len + 4 >= errlen - 1)
		return -1;
	n = vsnprintf(err + len, errlen - len, fmt, ap);
	if (n < 0)
		err[len] = '\0';
	else if ((size_t)n >= errlen - len)
		mark_cut(err, errlen);
	return -1;
}

int sl_adderr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_vadderr(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
