/* errf.c - objgraph_errf (internal.h): one line per failing path. */
#include "objgraph/internal.h"

#include <stdarg.h>
#include <stdio.h>

int objgraph_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
