/*
 * errf.c - fs_errf(): every error message fs/ hands its caller is written
 * here, into the caller's buffer (FUSE workers run concurrently: no static
 * message buffer).
 */
#include "fs/internal.h"

#include <stdarg.h>
#include <stdio.h>

int fs_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
