/*
 * errf.c - the one way view/ writes an error: at a position of the mapping
 * in compiler form ("FILE:LINE:COL: error: MESSAGE", mapping_vdiag), or the
 * bare message when nothing in the mapping is at fault (an option the
 * caller gave, a read of a built view).
 */
#include "view/view_impl.h"

#include <stdarg.h>
#include <stdio.h>

int view_errf(char *err, size_t errlen, int code, const struct mapping_pos *pos, const char *fmt,
	      ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (pos)
		mapping_vdiag(err, errlen, code, pos, "error", fmt, ap);
	else if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}
