/*
 * warn.c - the warnings a view collects while it is built ("FILE:LINE:COL:
 * warning: ..."), kept for the caller to print; and how every message of
 * the view shows a tensor name.
 */
#include "view/view_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

const char *view_shown(char *buf, const char *name, size_t len)
{
	return util_escape(buf, VIEW_SHOWN_MAX, name, len, UTIL_ESCAPE_BACKSLASH);
}

int view_warn(struct view *v, const struct mapping_pos *pos, const char *fmt, ...)
{
	char msg[1024];
	char **w = util_grow(v->warnings, &v->cap_warnings, v->n_warnings + 1, sizeof(*w));
	va_list ap;

	if (!w)
		return -ENOMEM;
	v->warnings = w;
	va_start(ap, fmt);
	mapping_vdiag(msg, sizeof(msg), 0, pos, "warning", fmt, ap);
	va_end(ap);
	w[v->n_warnings] = strdup(msg);
	if (!w[v->n_warnings])
		return -ENOMEM;
	v->n_warnings++;
	return 0;
}

size_t view_num_warnings(const struct view *v) { return v->n_warnings; }

const char *view_warning(const struct view *v, size_t i) { return v->warnings[i]; }
