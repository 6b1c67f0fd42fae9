/*
 * parse.c - a strict reader of a safetensors header's JSON, for
 * `ckptfs ls FILE.safetensors` and the tests: the one shape the format
 * allows ({NAME: {"dtype", "shape", "data_offsets"}, "__metadata__":
 * {string: string}}), nothing else, and every check the reference reader
 * makes of the offsets. Files come from anywhere: no recursion, no
 * allocation beyond what the input's length justifies, every number
 * checked for overflow.
 */
#include "safetensors/safetensors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "util/util.h"

struct in {
	const uint8_t *p, *end, *start;
	char *err;
	size_t errlen;
	struct safetensors_header *h;
	size_t cap;
	int metadata; /* "__metadata__" was seen */
};

__attribute__((format(printf, 2, 3))) static int bad(struct in *in, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (in->err && in->errlen)
		snprintf(in->err, in->errlen, "safetensors header, byte %zu: %s",
			 (size_t)(in->p - in->start), msg);
	return -EBADMSG;
}

static void blanks(struct in *in)
{
	while (in->p < in->end &&
	       (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
		in->p++;
}

static int expect(struct in *in, char c)
{
	blanks(in);
	if (in->p >= in->end || *in->p != (uint8_t)c)
		return bad(in, "expected '%s'", (char[2]){ c, '\0' });
	in->p++;
	return 0;
}

/* ',' (1) or the closing bracket (0) after a member. */
static int next_or_close(struct in *in, char close)
{
	blanks(in);
	if (in->p < in->end && *in->p == ',') {
		in->p++;
		return 1;
	}
	if (in->p < in->end && *in->p == (uint8_t)close) {
		in->p++;
		return 0;
	}
	return bad(in, "expected ',' or '%s'", (char[2]){ close, '\0' });
}

static int hex4(struct in *in, unsigned *v)
{
	*v = 0;
	if (in->end - in->p < 4)
		return bad(in, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int c = *in->p++, d = c >= '0' && c <= '9'   ? c - '0'
				      : c >= 'a' && c <= 'f' ? c - 'a' + 10
				      : c >= 'A' && c <= 'F' ? c - 'A' + 10
							     : -1;

		if (d < 0)
			return bad(in, "bad \\u escape");
		*v = *v << 4 | (unsigned)d;
	}
	return 0;
}

/* A \u escape of four hex digits (two escapes for a surrogate pair) as UTF-8 at w. */
static int unicode(struct in *in, char **w)
{
	unsigned u, lo;
	char *o = *w;

	if (hex4(in, &u))
		return -EBADMSG;
	if (u >= 0xdc00 && u < 0xe000)
		return bad(in, "lone low surrogate");
	if (u >= 0xd800 && u < 0xdc00) {
		if (in->end - in->p < 2 || in->p[0] != '\\' || in->p[1] != 'u')
			return bad(in, "lone high surrogate");
		in->p += 2;
		if (hex4(in, &lo) || lo < 0xdc00 || lo >= 0xe000)
			return bad(in, "bad surrogate pair");
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

static int escape(struct in *in, char **w)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;

	if (in->p >= in->end)
		return bad(in, "truncated escape");
	if (*in->p == 'u') {
		in->p++;
		return unicode(in, w);
	}
	k = memchr(from, *in->p, sizeof(from) - 1);
	if (!k)
		return bad(in, "unknown escape '\\%s'",
			   (char[2]){ *in->p >= 0x20 && *in->p < 0x7f ? (char)*in->p : '?', '\0' });
	*(*w)++ = to[k - from];
	in->p++;
	return 0;
}

/* A string, decoded: *out malloc'd (NUL-terminated), caller frees. */
static int string(struct in *in, char **out, size_t *len)
{
	const uint8_t *q, *end = in->end;
	char *s, *w;
	int rc = 0;

	if (expect(in, '"'))
		return -EBADMSG;
	for (q = in->p; q < in->end && *q != '"'; q++)
		if (*q == '\\')
			q++;
	if (q >= in->end)
		return bad(in, "unterminated string");
	s = w = malloc((size_t)(q - in->p) + 1); /* decoding never grows */
	if (!s)
		return -ENOMEM;
	in->end = q; /* an escape cannot reach past the closing quote */
	while (rc == 0 && in->p < q) {
		if (*in->p < 0x20)
			rc = bad(in, "raw control character in a string");
		else if (*in->p == '\\')
			in->p++, rc = escape(in, &w);
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

static int number(struct in *in, uint64_t *v)
{
	blanks(in);
	*v = 0;
	if (in->p >= in->end || *in->p < '0' || *in->p > '9')
		return bad(in, "expected a non-negative integer");
	if (*in->p == '0' && in->end - in->p > 1 && in->p[1] >= '0' && in->p[1] <= '9')
		return bad(in, "leading zero");
	while (in->p < in->end && *in->p >= '0' && *in->p <= '9') {
		if (*v > (UINT64_MAX - 9) / 10)
			return bad(in, "number too large");
		*v = *v * 10 + (uint64_t)(*in->p++ - '0');
	}
	if (in->p < in->end && (*in->p == '.' || *in->p == 'e' || *in->p == 'E'))
		return bad(in, "expected an integer");
	return 0;
}

static int shape(struct in *in, struct safetensors_tensor *t)
{
	size_t cap = 0;
	int more;

	if (expect(in, '['))
		return -EBADMSG;
	blanks(in);
	if (in->p < in->end && *in->p == ']') {
		in->p++;
		return 0;
	}
	do {
		uint64_t d, *p;

		if (number(in, &d))
			return -EBADMSG;
		if (d > INT64_MAX || t->rank >= BUNDLE_MAX_RANK)
			return bad(in,
				   d > INT64_MAX ? "dimension too large" : "too many dimensions");
		p = util_grow(t->dims, &cap, (size_t)t->rank + 1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->dims = p;
		t->dims[t->rank++] = d;
	} while ((more = next_or_close(in, ']')) == 1);
	return more;
}

static int offsets(struct in *in, struct safetensors_tensor *t)
{
	if (expect(in, '[') || number(in, &t->begin) || expect(in, ',') || number(in, &t->end) ||
	    expect(in, ']'))
		return -EBADMSG;
	return t->end < t->begin ? bad(in, "data_offsets end before they begin") : 0;
}

static int dtype(struct in *in, struct safetensors_tensor *t)
{
	char *s;
	size_t len;
	int rc = string(in, &s, &len);

	if (rc)
		return rc;
	t->dtype = safetensors_dtype_by_name(s, len);
	if (t->dtype < 0) {
		char shown[64];

		rc = bad(in, "unsupported dtype '%s'",
			 util_escape(shown, sizeof(shown), s, len, UTIL_ESCAPE_BACKSLASH));
	}
	free(s);
	return rc;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]}, each once. */
static int tensor(struct in *in, struct safetensors_tensor *t)
{
	unsigned seen = 0;
	int more;

	if (expect(in, '{'))
		return -EBADMSG;
	do {
		static const char *const fields[] = { "dtype", "shape", "data_offsets" };
		char *k;
		size_t len, f;
		int rc;

		blanks(in);
		if ((rc = string(in, &k, &len)))
			return rc;
		for (f = 0; f < 3 && strcmp(k, fields[f]); f++)
			;
		free(k);
		if (f == 3 || seen & 1u << f)
			return bad(in, f == 3 ? "unknown field" : "field given twice");
		seen |= 1u << f;
		if (expect(in, ':'))
			return -EBADMSG;
		rc = f == 0 ? dtype(in, t) : f == 1 ? shape(in, t) : offsets(in, t);
		if (rc)
			return rc;
	} while ((more = next_or_close(in, '}')) == 1);
	if (more == 0 && seen != 7)
		return bad(in, "a tensor needs dtype, shape and data_offsets");
	return more;
}

/* "__metadata__": {string: string} (or null), checked and dropped. */
static int metadata(struct in *in)
{
	int more;

	blanks(in);
	if (in->end - in->p >= 4 && !memcmp(in->p, "null", 4)) {
		in->p += 4;
		return 0;
	}
	if (expect(in, '{'))
		return -EBADMSG;
	blanks(in);
	if (in->p < in->end && *in->p == '}') {
		in->p++;
		return 0;
	}
	do {
		char *s;
		size_t len;
		int rc = string(in, &s, &len);

		free(rc ? NULL : s);
		if (rc || expect(in, ':'))
			return rc ? rc : -EBADMSG;
		rc = string(in, &s, &len);
		if (rc)
			return rc;
		free(s);
	} while ((more = next_or_close(in, '}')) == 1);
	return more;
}

static int member(struct in *in)
{
	struct safetensors_tensor t = { 0 }, *p;
	const uint8_t *key;
	int rc;

	blanks(in);
	key = in->p;
	rc = string(in, &t.name, &t.name_len);
	if (rc == 0 && expect(in, ':'))
		rc = -EBADMSG;
	if (rc == 0 && t.name_len == 12 && !memcmp(t.name, "__metadata__", 12)) {
		free(t.name);
		/* serde refuses a struct field given twice; so does the reference */
		if (in->metadata++) {
			in->p = key; /* the message names the second key's byte */
			return bad(in, "'__metadata__' given twice");
		}
		return metadata(in);
	}
	if (rc == 0)
		rc = tensor(in, &t);
	p = rc ? NULL : util_grow(in->h->t, &in->cap, in->h->n + 1, sizeof(*p));
	if (!p) {
		free(t.name);
		free(t.dims);
		return rc ? rc : -ENOMEM;
	}
	in->h->t = p;
	p[in->h->n++] = t;
	return 0;
}

static int cmp_begin(const void *a, const void *b)
{
	const struct safetensors_tensor *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

static int cmp_name(const void *a, const void *b)
{
	const struct safetensors_tensor *x = *(const struct safetensors_tensor *const *)a;
	const struct safetensors_tensor *y = *(const struct safetensors_tensor *const *)b;

	return bundle_key_cmp(x->name, x->name_len, y->name, y->name_len);
}

/* Bytes of t's elements, or -1 on overflow. */
static int64_t bytes(const struct safetensors_tensor *t)
{
	uint64_t n = (uint64_t)bundle_dtype_size(t->dtype);

	for (int d = 0; d < t->rank; d++) {
		if (t->dims[d] && n > INT64_MAX / t->dims[d])
			return -1;
		n *= t->dims[d];
	}
	return (int64_t)n;
}

static int check_names(struct in *in)
{
	struct safetensors_header *h = in->h;
	struct safetensors_tensor **s = malloc((h->n + 1) * sizeof(*s));
	int rc = 0;

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < h->n; i++)
		s[i] = &h->t[i];
	qsort(s, h->n, sizeof(*s), cmp_name);
	for (size_t i = 1; rc == 0 && i < h->n; i++)
		if (!cmp_name(&s[i - 1], &s[i]))
			rc = bad(in, "a tensor name appears twice");
	free(s);
	return rc;
}

static int check_offsets(struct in *in, uint64_t data_len)
{
	struct safetensors_header *h = in->h;
	uint64_t at = 0;

	if (h->n) /* h->t is NULL for none */
		qsort(h->t, h->n, sizeof(*h->t), cmp_begin);
	for (size_t i = 0; i < h->n; i++) {
		int64_t n = bytes(&h->t[i]);

		if (h->t[i].begin != at)
			return bad(
				in,
				"tensor %zu: data_offsets [%llu, %llu) leave a gap or overlap (expected to begin at %llu)",
				i, (unsigned long long)h->t[i].begin,
				(unsigned long long)h->t[i].end, (unsigned long long)at);
		if (n < 0 || h->t[i].end - h->t[i].begin != (uint64_t)n)
			return bad(in,
				   "tensor %zu: data_offsets [%llu, %llu) do not hold its shape", i,
				   (unsigned long long)h->t[i].begin,
				   (unsigned long long)h->t[i].end);
		at = h->t[i].end;
	}
	if (at != data_len)
		return bad(in, "the tensors cover %llu bytes of data, the file has %llu",
			   (unsigned long long)at, (unsigned long long)data_len);
	h->data_len = at;
	return check_names(in);
}

int safetensors_header_len(const uint8_t prefix[8], uint64_t file_size, uint64_t *n, char *err,
			   size_t errlen)
{
	uint64_t len = 0;

	for (int i = 7; i >= 0; i--)
		len = len << 8 | prefix[i];
	if (len > SAFETENSORS_MAX_HEADER || file_size < 8 || len > file_size - 8) {
		if (err && errlen && len > SAFETENSORS_MAX_HEADER)
			snprintf(
				err, errlen,
				"not a safetensors file (a header of %llu bytes, over the %d readers accept)",
				(unsigned long long)len, SAFETENSORS_MAX_HEADER);
		else if (err && errlen)
			snprintf(
				err, errlen,
				"not a safetensors file (a header of %llu bytes in a file of %llu)",
				(unsigned long long)len, (unsigned long long)file_size);
		return -EBADMSG;
	}
	*n = len;
	return 0;
}

int safetensors_parse(const uint8_t *json, size_t len, uint64_t data_len,
		      struct safetensors_header **out, char *err, size_t errlen)
{
	struct in in = { json, json + len, json, err, errlen, NULL, 0, 0 };
	int rc = 0, more = 0;

	if (len > SAFETENSORS_MAX_HEADER || !util_is_utf8((const char *)json, len))
		return bad(&in, len > SAFETENSORS_MAX_HEADER ? "header too large" : "not UTF-8");
	in.h = calloc(1, sizeof(*in.h));
	if (!in.h)
		return -ENOMEM;
	rc = expect(&in, '{');
	blanks(&in);
	if (rc == 0 && in.p < in.end && *in.p == '}')
		in.p++;
	else
		while (rc == 0 && (rc = member(&in)) == 0 && (more = next_or_close(&in, '}')) == 1)
			;
	if (rc == 0 && more < 0)
		rc = more;
	blanks(&in);
	if (rc == 0 && in.p != in.end)
		rc = bad(&in, "trailing bytes after the header");
	if (rc == 0)
		rc = check_offsets(&in, data_len);
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "out of memory");
	if (rc) {
		safetensors_header_free(in.h);
		return rc;
	}
	*out = in.h;
	return 0;
}

void safetensors_header_free(struct safetensors_header *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		free(h->t[i].name);
		free(h->t[i].dims);
	}
	free(h->t);
	free(h);
}
