/*
 * json.c - the JSON lexing shared by the strict parsers of safetensors/
 * (a header, parse.c; a model.safetensors.index.json, hfindex.c): strings
 * decoded and checked, non-negative integers checked for overflow, no
 * recursion and no allocation beyond a string's own length.
 */
#include "safetensors/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) int json_bad(struct json_in *in, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (in->err && in->errlen)
		snprintf(in->err, in->errlen, "%s, byte %zu: %s", in->what,
			 (size_t)(in->p - in->start), msg);
	return -EBADMSG;
}

void json_blanks(struct json_in *in)
{
	while (in->p < in->end &&
	       (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
		in->p++;
}

int json_expect(struct json_in *in, char c)
{
	json_blanks(in);
	if (in->p >= in->end || *in->p != (uint8_t)c)
		return json_bad(in, "expected '%s'", (char[2]){ c, '\0' });
	in->p++;
	return 0;
}

/* ',' (1) or the closing bracket (0) after a member. */
int json_next_or_close(struct json_in *in, char close)
{
	json_blanks(in);
	if (in->p < in->end && *in->p == ',') {
		in->p++;
		return 1;
	}
	if (in->p < in->end && *in->p == (uint8_t)close) {
		in->p++;
		return 0;
	}
	return json_bad(in, "expected ',' or '%s'", (char[2]){ close, '\0' });
}

static int json_hex4(struct json_in *in, unsigned *v)
{
	*v = 0;
	if (in->end - in->p < 4)
		return json_bad(in, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int c = *in->p++, d = c >= '0' && c <= '9'   ? c - '0'
				      : c >= 'a' && c <= 'f' ? c - 'a' + 10
				      : c >= 'A' && c <= 'F' ? c - 'A' + 10
							     : -1;

		if (d < 0)
			return json_bad(in, "bad \\u escape");
		*v = *v << 4 | (unsigned)d;
	}
	return 0;
}

/* A \u escape of four hex digits (two escapes for a surrogate pair) as UTF-8 at w. */
static int json_unicode(struct json_in *in, char **w)
{
	unsigned u, lo;
	char *o = *w;

	if (json_hex4(in, &u))
		return -EBADMSG;
	if (u >= 0xdc00 && u < 0xe000)
		return json_bad(in, "lone low surrogate");
	if (u >= 0xd800 && u < 0xdc00) {
		if (in->end - in->p < 2 || in->p[0] != '\\' || in->p[1] != 'u')
			return json_bad(in, "lone high surrogate");
		in->p += 2;
		if (json_hex4(in, &lo) || lo < 0xdc00 || lo >= 0xe000)
			return json_bad(in, "bad surrogate pair");
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (u < 0x80) {
		*o++ = (char)u;
	} else if (u < 0x800) {
		*o++ = (char)(0xc0 | u >> 6);
		*o++ = (char)(0x80 | (u & 0x3f));
	} else if (u < 0x10000) {
		*o++ = (char)(0xe0 | u >> 12);
		*o++ = (char)(0x80 | (u >> 6 & 0x3f));
		*o++ = (char)(0x80 | (u & 0x3f));
	} else {
		*o++ = (char)(0xf0 | u >> 18);
		*o++ = (char)(0x80 | (u >> 12 & 0x3f));
		*o++ = (char)(0x80 | (u >> 6 & 0x3f));
		*o++ = (char)(0x80 | (u & 0x3f));
	}
	*w = o;
	return 0;
}

static int json_escape(struct json_in *in, char **w)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;

	if (in->p >= in->end)
		return json_bad(in, "truncated escape");
	if (*in->p == 'u') {
		in->p++;
		return json_unicode(in, w);
	}
	k = memchr(from, *in->p, sizeof(from) - 1);
	if (!k)
		return json_bad(
			in, "unknown escape '\\%s'",
			(char[2]){ *in->p >= 0x20 && *in->p < 0x7f ? (char)*in->p : '?', '\0' });
	*(*w)++ = to[k - from];
	in->p++;
	return 0;
}

/* A string, decoded: *out malloc'd (NUL-terminated), caller frees. */
int json_string(struct json_in *in, char **out, size_t *len)
{
	const uint8_t *q, *end = in->end;
	char *s, *w;
	int rc = 0;

	if (json_expect(in, '"'))
		return -EBADMSG;
	for (q = in->p; q < in->end && *q != '"'; q++)
		if (*q == '\\')
			q++;
	if (q >= in->end)
		return json_bad(in, "unterminated string");
	s = w = malloc((size_t)(q - in->p) + 1); /* decoding never grows */
	if (!s)
		return -ENOMEM;
	in->end = q; /* an escape cannot reach past the closing quote */
	while (rc == 0 && in->p < q) {
		if (*in->p < 0x20)
			rc = json_bad(in, "raw control character in a string");
		else if (*in->p == '\\')
			in->p++, rc = json_escape(in, &w);
		else
			*w++ = (char)*in->p++;
	}
	in->end = end;
	if (rc) {
		free(s);
		return rc;
	}
	in->p++;
	*w = '\0';
	*out = s;
	*len = (size_t)(w - s);
	return 0;
}

int json_number(struct json_in *in, uint64_t *v)
{
	json_blanks(in);
	*v = 0;
	if (in->p >= in->end || *in->p < '0' || *in->p > '9')
		return json_bad(in, "expected a non-negative integer");
	if (*in->p == '0' && in->end - in->p > 1 && in->p[1] >= '0' && in->p[1] <= '9')
		return json_bad(in, "leading zero");
	while (in->p < in->end && *in->p >= '0' && *in->p <= '9') {
		if (*v > (UINT64_MAX - 9) / 10)
			return json_bad(in, "number too large");
		*v = *v * 10 + (uint64_t)(*in->p++ - '0');
	}
	if (in->p < in->end && (*in->p == '.' || *in->p == 'e' || *in->p == 'E'))
		return json_bad(in, "expected an integer");
	return 0;
}

static int word(struct json_in *in, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(in->end - in->p) < n || memcmp(in->p, w, n))
		return 0;
	in->p += n;
	return 1;
}

int json_scalar(struct json_in *in)
{
	char *s;
	size_t len;
	uint64_t v;
	int rc;

	json_blanks(in);
	if (in->p < in->end && *in->p == '"') {
		rc = json_string(in, &s, &len);
		if (rc == 0)
			free(s);
		return rc;
	}
	if (word(in, "true") || word(in, "false") || word(in, "null"))
		return 0;
	return json_number(in, &v);
}
