/*
 * st_json.c - the safetensors header as bytes: the dtype table, the
 * writer (the JSON serde_json would write for the same tensors) and a
 * strict reader. Pure: no files, no view.
 */
#include "view/view_impl.h"
#include "view/st_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/*
 * TensorFlow dtype -> safetensors name; order is the dtype's place in the
 * reference writer's Dtype enum, which sorts tensors by it (descending)
 * so that each is aligned to its element size.
 */
static const struct st_dtype {
	int tf;
	const char *name;
	int order;
} dtypes[] = {
	{ BUNDLE_DT_BOOL, "BOOL", 0 },
	{ BUNDLE_DT_UINT8, "U8", 4 },
	{ BUNDLE_DT_INT8, "I8", 5 },
	{ 24 /* float8_e5m2 */, "F8_E5M2", 6 },
	{ 25 /* float8_e4m3fn */, "F8_E4M3", 7 },
	{ BUNDLE_DT_INT16, "I16", 11 },
	{ BUNDLE_DT_UINT16, "U16", 12 },
	{ BUNDLE_DT_HALF, "F16", 13 },
	{ BUNDLE_DT_BFLOAT16, "BF16", 14 },
	{ BUNDLE_DT_INT32, "I32", 15 },
	{ BUNDLE_DT_UINT32, "U32", 16 },
	{ BUNDLE_DT_FLOAT, "F32", 17 },
	{ BUNDLE_DT_DOUBLE, "F64", 19 },
	{ BUNDLE_DT_INT64, "I64", 20 },
	{ BUNDLE_DT_UINT64, "U64", 21 },
};

static const struct st_dtype *by_tf(int dtype)
{
	for (size_t i = 0; i < N(dtypes); i++)
		if (dtypes[i].tf == dtype)
			return &dtypes[i];
	return NULL;
}

const char *view_st_dtype_name(int dtype)
{
	const struct st_dtype *d = by_tf(dtype);

	return d ? d->name : NULL;
}

int st_dtype_order(int dtype)
{
	const struct st_dtype *d = by_tf(dtype);

	return d ? d->order : -1;
}

int st_dtype_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < N(dtypes); i++)
		if (strlen(dtypes[i].name) == len && !memcmp(dtypes[i].name, name, len))
			return dtypes[i].tf;
	return -1;
}

/* ------------------------------------------------------------- writing */

struct buf {
	uint8_t *p;
	size_t n, cap;
	int failed;
};

static void put(struct buf *b, const void *s, size_t n)
{
	uint8_t *p = b->failed ? NULL : util_grow(b->p, &b->cap, b->n + n + 1, 1);

	if (!p) {
		b->failed = 1;
		return;
	}
	b->p = p;
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void put_u64(struct buf *b, uint64_t v)
{
	char s[24];

	put(b, s, (size_t)snprintf(s, sizeof(s), "%llu", (unsigned long long)v));
}

/* A JSON string as serde_json writes it: short escapes, else \u00xx. */
static void put_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };

		switch (c) {
		case '"': puts_(b, "\\\""); break;
		case '\\': puts_(b, "\\\\"); break;
		case '\b': puts_(b, "\\b"); break;
		case '\f': puts_(b, "\\f"); break;
		case '\n': puts_(b, "\\n"); break;
		case '\r': puts_(b, "\\r"); break;
		case '\t': puts_(b, "\\t"); break;
		default:
			if (c < 0x20)
				put(b, e, 6);
			else
				put(b, &s[i], 1);
		}
	}
	put(b, "\"", 1);
}

static void put_tensor(struct buf *b, const struct view_st_tensor *t)
{
	put_string(b, t->name, t->name_len);
	puts_(b, ":{\"dtype\":\"");
	puts_(b, view_st_dtype_name(t->dtype));
	puts_(b, "\",\"shape\":[");
	for (int d = 0; d < t->rank; d++) {
		if (d)
			put(b, ",", 1);
		put_u64(b, t->dims[d]);
	}
	puts_(b, "],\"data_offsets\":[");
	put_u64(b, t->begin);
	put(b, ",", 1);
	put_u64(b, t->end);
	puts_(b, "]}");
}

int view_st_serialize(const struct view_st_tensor *t, size_t n,
		      uint8_t **out, size_t *len)
{
	struct buf b = { NULL, 0, 0, 0 };
	uint64_t json_len;

	for (size_t i = 0; i < n; i++)
		if (!view_st_dtype_name(t[i].dtype) ||
		    !util_is_utf8(t[i].name, t[i].name_len))
			return -EINVAL;
	put(&b, "\0\0\0\0\0\0\0\0{", 9);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(&b, ",", 1);
		put_tensor(&b, &t[i]);
	}
	put(&b, "}", 1);
	while (!b.failed && b.n % 8)
		put(&b, " ", 1);
	if (b.failed) {
		free(b.p);
		return -ENOMEM;
	}
	json_len = b.n - 8;
	for (int i = 0; i < 8; i++)
		b.p[i] = (uint8_t)(json_len >> (8 * i));
	*out = b.p;
	*len = b.n;
	return 0;
}
