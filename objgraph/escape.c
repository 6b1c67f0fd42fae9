/*
 * escape.c - TensorFlow's escaping of a local name inside an object path
 * (trackable_utils.py escape_local_name), and its inverse for paths a
 * user writes: '.' <-> "..", '/' <-> ".S".
 */
#include "objgraph/objgraph.h"

#include <errno.h>
#include <stdlib.h>

size_t objgraph_escaped_len(const char *name)
{
	size_t n = 0;

	for (; *name; name++)
		n += (*name == '.' || *name == '/') ? 2 : 1;
	return n;
}

char *objgraph_escape_into(char *dst, const char *name)
{
	for (; *name; name++) {
		if (*name == '.' || *name == '/') {
			*dst++ = '.';
			*dst++ = *name == '.' ? '.' : 'S';
		} else {
			*dst++ = *name;
		}
	}
	return dst;
}

char *objgraph_escape(const char *name)
{
	char *s = malloc(objgraph_escaped_len(name) + 1);

	if (s)
		*objgraph_escape_into(s, name) = '\0';
	return s;
}

int objgraph_unescape(const char *s, size_t len, char **out)
{
	char *r = malloc(len + 1), *w = r;

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '.') {
			*w++ = s[i];
			continue;
		}
		if (i + 1 == len || (s[i + 1] != '.' && s[i + 1] != 'S')) {
			free(r);
			return -EINVAL;
		}
		*w++ = s[++i] == '.' ? '.' : '/';
	}
	*w = '\0';
	*out = r;
	return 0;
}
