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
#include "safetensors/json.h"
#include "util/util.h"

struct in {
	struct json_in j; /* the bytes, where they are read, the message buffer */
	struct safetensors_header *h;
	size_t cap;
	int metadata; /* "__metadata__" was seen */
};

static int shape(struct in *in, struct safetensors_tensor *t)
{
	size_t cap = 0;
	int more;

	if (json_expect(&in->j, '['))
		return -EBADMSG;
	json_blanks(&in->j);
	if (in->j.p < in->j.end && *in->j.p == ']') {
		in->j.p++;
		return 0;
	}
	do {
		uint64_t d, *p;

		if (json_number(&in->j, &d))
			return -EBADMSG;
		if (d > INT64_MAX || t->rank >= BUNDLE_MAX_RANK)
			return json_bad(&in->j, d > INT64_MAX ? "dimension too large"
							      : "too many dimensions");
		p = util_grow(t->dims, &cap, (size_t)t->rank + 1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->dims = p;
		t->dims[t->rank++] = d;
	} while ((more = json_next_or_close(&in->j, ']')) == 1);
	return more;
}

static int offsets(struct in *in, struct safetensors_tensor *t)
{
	if (json_expect(&in->j, '[') || json_number(&in->j, &t->begin) ||
	    json_expect(&in->j, ',') || json_number(&in->j, &t->end) || json_expect(&in->j, ']'))
		return -EBADMSG;
	return t->end < t->begin ? json_bad(&in->j, "data_offsets end before they begin") : 0;
}

static int dtype(struct in *in, struct safetensors_tensor *t)
{
	char *s;
	size_t len;
	int rc = json_string(&in->j, &s, &len);

	if (rc)
		return rc;
	t->dtype = safetensors_dtype_by_name(s, len);
	if (t->dtype < 0) {
		char shown[64];

		rc = json_bad(&in->j, "unsupported dtype '%s'",
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

	if (json_expect(&in->j, '{'))
		return -EBADMSG;
	do {
		static const char *const fields[] = { "dtype", "shape", "data_offsets" };
		char *k;
		size_t len, f;
		int rc;

		json_blanks(&in->j);
		if ((rc = json_string(&in->j, &k, &len)))
			return rc;
		for (f = 0; f < 3 && strcmp(k, fields[f]); f++)
			;
		free(k);
		if (f == 3 || seen & 1u << f)
			return json_bad(&in->j, f == 3 ? "unknown field" : "field given twice");
		seen |= 1u << f;
		if (json_expect(&in->j, ':'))
			return -EBADMSG;
		rc = f == 0 ? dtype(in, t) : f == 1 ? shape(in, t) : offsets(in, t);
		if (rc)
			return rc;
	} while ((more = json_next_or_close(&in->j, '}')) == 1);
	if (more == 0 && seen != 7)
		return json_bad(&in->j, "a tensor needs dtype, shape and data_offsets");
	return more;
}

/* "__metadata__": {string: string} (or null), checked and dropped. */
static int metadata(struct in *in)
{
	int more;

	json_blanks(&in->j);
	if (in->j.end - in->j.p >= 4 && !memcmp(in->j.p, "null", 4)) {
		in->j.p += 4;
		return 0;
	}
	if (json_expect(&in->j, '{'))
		return -EBADMSG;
	json_blanks(&in->j);
	if (in->j.p < in->j.end && *in->j.p == '}') {
		in->j.p++;
		return 0;
	}
	do {
		char *s;
		size_t len;
		int rc = json_string(&in->j, &s, &len);

		free(rc ? NULL : s);
		if (rc || json_expect(&in->j, ':'))
			return rc ? rc : -EBADMSG;
		rc = json_string(&in->j, &s, &len);
		if (rc)
			return rc;
		free(s);
	} while ((more = json_next_or_close(&in->j, '}')) == 1);
	return more;
}

static int member(struct in *in)
{
	struct safetensors_tensor t = { 0 }, *p;
	const uint8_t *key;
	int rc;

	json_blanks(&in->j);
	key = in->j.p;
	rc = json_string(&in->j, &t.name, &t.name_len);
	if (rc == 0 && json_expect(&in->j, ':'))
		rc = -EBADMSG;
	if (rc == 0 && t.name_len == 12 && !memcmp(t.name, "__metadata__", 12)) {
		free(t.name);
		/* serde refuses a struct field given twice; so does the reference */
		if (in->metadata++) {
			in->j.p = key; /* the message names the second key's byte */
			return json_bad(&in->j, "'__metadata__' given twice");
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
			rc = json_bad(&in->j, "a tensor name appears twice");
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
			return json_bad(
				&in->j,
				"tensor %zu: data_offsets [%llu, %llu) leave a gap or overlap (expected to begin at %llu)",
				i, (unsigned long long)h->t[i].begin,
				(unsigned long long)h->t[i].end, (unsigned long long)at);
		if (n < 0 || h->t[i].end - h->t[i].begin != (uint64_t)n)
			return json_bad(
				&in->j,
				"tensor %zu: data_offsets [%llu, %llu) do not hold its shape", i,
				(unsigned long long)h->t[i].begin, (unsigned long long)h->t[i].end);
		at = h->t[i].end;
	}
	if (at != data_len)
		return json_bad(&in->j, "the tensors cover %llu bytes of data, the file has %llu",
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
	struct in in = {
		{ json, json + len, json, err, errlen, "safetensors header" }, NULL, 0, 0
	};
	int rc = 0, more = 0;

	if (len > SAFETENSORS_MAX_HEADER || !util_is_utf8((const char *)json, len))
		return json_bad(&in.j,
				len > SAFETENSORS_MAX_HEADER ? "header too large" : "not UTF-8");
	in.h = calloc(1, sizeof(*in.h));
	if (!in.h)
		return -ENOMEM;
	rc = json_expect(&in.j, '{');
	json_blanks(&in.j);
	if (rc == 0 && in.j.p < in.j.end && *in.j.p == '}')
		in.j.p++;
	else
		while (rc == 0 && (rc = member(&in)) == 0 &&
		       (more = json_next_or_close(&in.j, '}')) == 1)
			;
	if (rc == 0 && more < 0)
		rc = more;
	json_blanks(&in.j);
	if (rc == 0 && in.j.p != in.j.end)
		rc = json_bad(&in.j, "trailing bytes after the header");
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
