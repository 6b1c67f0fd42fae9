/*
 * coding.c - the byte-level primitives every other layer encodes with
 * (docs/checkpoint-format.md §2.2).
 *
 *   fixed32  v = 0x11223344  ->  44 33 22 11           (little-endian)
 *   varint   v = 300         ->  AC 02                 (LEB128: 7 bits a
 *            byte, low group first, high bit set = more bytes follow)
 *
 * Decoders are bounds-checked against an explicit limit and refuse
 * encodings that cannot come from a correct writer (too long, or bits
 * beyond the type's width), so a corrupt index fails here, not later.
 */
#include "bundle/coding.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void coding_put_fixed32(uint8_t *dst, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		dst[i] = (uint8_t)(v >> (8 * i));
}

void coding_put_fixed64(uint8_t *dst, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		dst[i] = (uint8_t)(v >> (8 * i));
}

uint32_t coding_get_fixed32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t coding_get_fixed64(const uint8_t *p)
{
	return (uint64_t)coding_get_fixed32(p) | (uint64_t)coding_get_fixed32(p + 4) << 32;
}

size_t coding_put_varint64(uint8_t *dst, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		dst[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	dst[n++] = (uint8_t)v;
	return n;
}

size_t coding_put_varint32(uint8_t *dst, uint32_t v) { return coding_put_varint64(dst, v); }

/*
 * Shared decoder: at most max_bytes bytes, and the last allowed byte may
 * only carry last_max, the bits that still fit the type (0x0F for the 5th
 * byte of a varint32, 0x01 for the 10th of a varint64). Rejecting wider
 * values instead of truncating them keeps a corrupt length from silently
 * turning into a small, plausible one.
 */
static const uint8_t *get_varint(const uint8_t *p, const uint8_t *limit, int max_bytes,
				 uint8_t last_max, uint64_t *v)
{
	uint64_t result = 0;

	for (int i = 0; i < max_bytes && p < limit; i++) {
		const uint8_t byte = *p++;

		if (i == max_bytes - 1 && byte > last_max)
			return NULL;
		result |= (uint64_t)(byte & 0x7f) << (7 * i);
		if (!(byte & 0x80)) {
			*v = result;
			return p;
		}
	}
	return NULL; /* truncated, or every allowed byte said "more" */
}

const uint8_t *coding_get_varint32(const uint8_t *p, const uint8_t *limit, uint32_t *v)
{
	uint64_t tmp;

	p = get_varint(p, limit, CODING_MAX_VARINT32, 0x0f, &tmp);
	if (p)
		*v = (uint32_t)tmp;
	return p;
}

const uint8_t *coding_get_varint64(const uint8_t *p, const uint8_t *limit, uint64_t *v)
{
	return get_varint(p, limit, CODING_MAX_VARINT64, 0x01, v);
}

/* Grow to hold n more bytes; 0, or -ENOMEM with the error made sticky. */
static int bytebuf_reserve(struct bytebuf *b, size_t n)
{
	uint8_t *p;

	if (b->err)
		return b->err;
	if (n <= b->cap - b->len)
		return 0;
	/* Doubling keeps appends amortised O(1) for multi-MB indexes. */
	p = n <= SIZE_MAX - b->len ? util_grow(b->data, &b->cap, b->len + n, 1) : NULL;
	if (!p) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->data = p;
	return 0;
}

void bytebuf_append(struct bytebuf *b, const void *p, size_t n)
{
	if (n == 0 || bytebuf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void bytebuf_put_fixed32(struct bytebuf *b, uint32_t v)
{
	uint8_t tmp[4];

	coding_put_fixed32(tmp, v);
	bytebuf_append(b, tmp, sizeof(tmp));
}

void bytebuf_put_varint32(struct bytebuf *b, uint32_t v)
{
	uint8_t tmp[CODING_MAX_VARINT32];

	bytebuf_append(b, tmp, coding_put_varint32(tmp, v));
}

void bytebuf_put_varint64(struct bytebuf *b, uint64_t v)
{
	uint8_t tmp[CODING_MAX_VARINT64];

	bytebuf_append(b, tmp, coding_put_varint64(tmp, v));
}

void bytebuf_release(struct bytebuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/*
 * NULL means failure only: an empty buffer still hands back a (1-byte)
 * allocation, so callers need not tell "empty" from "out of memory". A
 * buffer with a sticky error is released and yields NULL.
 */
uint8_t *bytebuf_detach(struct bytebuf *b, size_t *len)
{
	uint8_t *p = b->data;

	if (b->err) {
		bytebuf_release(b);
		return NULL;
	}
	if (!p)
		p = malloc(1);
	if (p && len)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return p;
}
