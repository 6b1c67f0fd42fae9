/*
 * http_parse.c - what a server says, parsed strictly: header lines,
 * Content-Range, Content-Length, and the Code of an S3 error body. Pure
 * functions over untrusted bytes (tests/fuzz/fuzz_http.c), so a server
 * that lies about a range is caught before its bytes are written.
 */
#define _GNU_SOURCE /* memmem */

#include "store/store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A decimal number of at most 18 digits (fits int64); its end in *end. */
static int parse_num(const char *s, const char *end, int64_t *out, const char **stop)
{
	int64_t v = 0;
	const char *p = s;

	while (p < end && *p >= '0' && *p <= '9' && p - s < 18)
		v = v * 10 + (*p++ - '0');
	if (p == s || (p < end && *p >= '0' && *p <= '9'))
		return -EBADMSG;
	*out = v;
	*stop = p;
	return 0;
}

int store_http_parse_content_range(const char *v, size_t n, int64_t *first, int64_t *last,
				   int64_t *total)
{
	const char *p = v, *end = v + n;
	int64_t f, l, t = -1;

	if (n < 6 || memcmp(p, "bytes ", 6))
		return -EBADMSG;
	p += 6;
	if (parse_num(p, end, &f, &p) || p == end || *p++ != '-')
		return -EBADMSG;
	if (parse_num(p, end, &l, &p) || p == end || *p++ != '/')
		return -EBADMSG;
	if (p < end && *p == '*')
		p++;
	else if (parse_num(p, end, &t, &p) || l >= t)
		return -EBADMSG;
	if (p != end || l < f)
		return -EBADMSG;
	*first = f;
	*last = l;
	*total = t;
	return 0;
}

int store_http_parse_length(const char *v, size_t n, int64_t *out)
{
	const char *stop;

	if (parse_num(v, v + n, out, &stop) || stop != v + n)
		return -EBADMSG;
	return 0;
}

int store_http_split_header(const char *line, size_t n, const char **name, size_t *name_len,
			    const char **value, size_t *value_len)
{
	const char *colon = memchr(line, ':', n), *v, *end = line + n;

	if (!colon || colon == line)
		return -EBADMSG;
	for (const char *p = line; p < colon; p++)
		if (*p == ' ' || *p == '\t' || (unsigned char)*p < 0x21)
			return -EBADMSG;
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*name = line;
	*name_len = (size_t)(colon - line);
	*value = v;
	*value_len = (size_t)(end - v);
	return 0;
}

int store_http_header_is(const char *name, size_t n, const char *want)
{
	if (n != strlen(want))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != want[i])
			return 0;
	}
	return 1;
}

/* The text between <tag> and </tag> in body, printable ASCII only. */
static void element(const char *body, size_t n, const char *tag, char *out, size_t out_len)
{
	char open[32], close[32];
	const char *b, *e;
	size_t w = 0;

	if (!out_len)
		return;
	out[0] = '\0';
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	b = memmem(body, n, open, strlen(open));
	if (!b)
		return;
	b += strlen(open);
	e = memmem(b, n - (size_t)(b - body), close, strlen(close));
	if (!e)
		return;
	for (; b < e && w + 1 < out_len; b++)
		out[w++] = *b >= 0x20 && *b < 0x7f ? *b : '?';
	out[w] = '\0';
}

void store_http_s3_error(const char *body, size_t n, char *code, size_t code_len, char *msg,
			 size_t msg_len)
{
	element(body, n, "Code", code, code_len);
	element(body, n, "Message", msg, msg_len);
}
