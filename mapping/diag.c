/*
 * diag.c - format mapping diagnostics in compiler form
 * ("FILE:LINE:COL: SEVERITY: MESSAGE"), for the parser here and for the
 * view, which reports semantic errors at positions recorded while parsing.
 * Never prints: the caller owns the buffer and decides what to do with it.
 */
#include "mapping/mapping.h"

#include <stdio.h>

/*
 * Write the location part. A missing file name, line or column is left
 * out rather than printed as 0, so a file-level error reads
 * "FILE: error: ..." and a line-level one "FILE:LINE: error: ...".
 */
static int format_where(char *buf, size_t len, const struct mapping_pos *pos)
{
	const char *file = pos && pos->file ? pos->file : NULL;

	if (!file)
		return 0;
	if (pos->line <= 0)
		return snprintf(buf, len, "%s: ", file);
	if (pos->col <= 0)
		return snprintf(buf, len, "%s:%d: ", file, pos->line);
	return snprintf(buf, len, "%s:%d:%d: ", file, pos->line, pos->col);
}

int mapping_vdiag(char *buf, size_t len, int code, const struct mapping_pos *pos,
		  const char *severity, const char *fmt, va_list ap)
{
	size_t used;
	int n;

	if (!buf || !len)
		return code;
	buf[0] = '\0';
	n = format_where(buf, len, pos);
	used = n < 0 ? 0 : (size_t)n;
	if (used < len) {
		n = snprintf(buf + used, len - used, "%s: ", severity ? severity : "error");
		used += n < 0 ? 0 : (size_t)n;
	}
	/* On truncation the text so far stays, cut and NUL-terminated. */
	if (used < len)
		vsnprintf(buf + used, len - used, fmt, ap);
	return code;
}

int mapping_diag(char *buf, size_t len, int code, const struct mapping_pos *pos,
		 const char *severity, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mapping_vdiag(buf, len, code, pos, severity, fmt, ap);
	va_end(ap);
	return code;
}
