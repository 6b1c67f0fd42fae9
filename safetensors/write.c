/*
 * write.c - tensors to a safetensors header: the 8-byte length and the
 * JSON serde_json would write for the same tensors, padded to 8 bytes.
 */
#include "safetensors/safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct buf {
	uint8_t *p;
	size_t n, cap;
	int failed;
	int count; /* only count the bytes: nothing is written */
};

static void put(struct buf *b, const void *s, size_t n)
{
	uint8_t *p;

	if (b->count) {
		b->n += n;
		return;
	}
	p = b->failed ? NULL : util_grow(b->p, &b->cap, b->n + n + 1, 1);

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

static void put_tensor(struct buf *b, const struct safetensors_tensor *t)
{
	put_string(b, t->name, t->name_len);
	puts_(b, ":{\"dtype\":\"");
	puts_(b, safetensors_dtype_name(t->dtype));
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

/* The whole header into b (or its length, if b->count); -EINVAL. */
static int put_header(struct buf *b, const struct safetensors_tensor *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!safetensors_dtype_name(t[i].dtype) || !util_is_utf8(t[i].name, t[i].name_len))
			return -EINVAL;
	put(b, "\0\0\0\0\0\0\0\0{", 9);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(b, ",", 1);
		put_tensor(b, &t[i]);
	}
	put(b, "}", 1);
	while (!b->failed && b->n % 8)
		put(b, " ", 1);
	return 0;
}

size_t safetensors_serialized_len(const struct safetensors_tensor *t, size_t n)
{
	struct buf b = { NULL, 0, 0, 0, 1 };

	return put_header(&b, t, n) ? 0 : b.n;
}

int safetensors_serialize(const struct safetensors_tensor *t, size_t n, uint8_t **out, size_t *len)
{
	struct buf b = { NULL, 0, 0, 0, 0 };
	uint64_t json_len;

	if (put_header(&b, t, n))
		return -EINVAL;
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

int safetensors_index_serialize(const struct safetensors_index *ix, uint8_t **out, size_t *len)
{
	struct buf b = { NULL, 0, 0, 0, 0 };

	for (size_t i = 0; i < ix->n; i++)
		if (!util_is_utf8(ix->t[i].name, ix->t[i].name_len) || ix->t[i].file >= ix->n_files)
			return -EINVAL;
	puts_(&b, "{\n");
	if (ix->has_total_size) {
		puts_(&b, "  \"metadata\": {\n    \"total_size\": ");
		put_u64(&b, ix->total_size);
		puts_(&b, "\n  },\n");
	}
	puts_(&b, "  \"weight_map\": {");
	for (size_t i = 0; i < ix->n; i++) {
		const char *f = ix->files[ix->t[i].file];

		puts_(&b, i ? ",\n    " : "\n    ");
		put_string(&b, ix->t[i].name, ix->t[i].name_len);
		puts_(&b, ": ");
		put_string(&b, f, strlen(f));
	}
	puts_(&b, ix->n ? "\n  }\n}\n" : "}\n}\n");
	if (b.failed) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.n;
	return 0;
}
