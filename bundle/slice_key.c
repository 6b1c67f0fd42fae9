/*
 * slice_key.c - keys of partitioned-variable pieces: TensorFlow's
 * EncodeTensorNameSlice, built from OrderedCode's "increasing" encodings
 * (docs/checkpoint-format.md §5.1):
 *
 *   key = NumInc(0) Str(name) NumInc(rank) { SNumInc(start) SNumInc(length) }
 *
 *   NumInc(u)   count byte (0..8), then the significant bytes, big-endian
 *   Str(s)      s with 00 -> 00 FF and FF -> FF 00, then 00 01
 *   SNumInc(v)  1..10 bytes: v in two's complement, big-endian, whose top
 *               bits are flipped by a header of L ones (v >= 0) so that
 *               byte strings sort like the numbers; a whole dimension is
 *               start 0, length -1
 *
 * Every piece key starts with 0x00, so pieces sort before all plain names.
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/coding.h"

/* Header bits XORed into the first two bytes of an L-byte SNumInc. */
static const uint8_t snum_header[11][2] = {
	{ 0, 0 },    { 0x80, 0 }, { 0xC0, 0 }, { 0xE0, 0 },    { 0xF0, 0 },    { 0xF8, 0 },
	{ 0xFC, 0 }, { 0xFE, 0 }, { 0xFF, 0 }, { 0xFF, 0x80 }, { 0xFF, 0xC0 },
};

static void put_num_inc(struct bytebuf *b, uint64_t u)
{
	uint8_t buf[9];
	int n = 0;

	for (uint64_t x = u; x; x >>= 8)
		n++;
	buf[0] = (uint8_t)n;
	for (int i = 0; i < n; i++)
		buf[1 + i] = (uint8_t)(u >> (8 * (n - 1 - i)));
	bytebuf_append(b, buf, (size_t)n + 1);
}

static void put_str(struct bytebuf *b, const char *s, size_t len)
{
	static const uint8_t esc0[2] = { 0x00, 0xFF }, escff[2] = { 0xFF, 0x00 };
	static const uint8_t term[2] = { 0x00, 0x01 };
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c != 0x00 && c != 0xFF)
			continue;
		bytebuf_append(b, s + run, i - run);
		bytebuf_append(b, c ? escff : esc0, 2);
		run = i + 1;
	}
	bytebuf_append(b, s + run, len - run);
	bytebuf_append(b, term, 2);
}

static int snum_len(int64_t v)
{
	uint64_t x = v < 0 ? ~(uint64_t)v : (uint64_t)v;
	int bits = 0;

	if (v >= -64 && v < 64)
		return 1;
	for (; x; x >>= 1)
		bits++;
	return (bits + 1 + 6) / 7;
}

static void put_snum_inc(struct bytebuf *b, int64_t v)
{
	int len = snum_len(v);
	uint8_t buf[10];

	for (int i = 0; i < len; i++) {
		int shift = 8 * (len - 1 - i);
		/* Bytes above bit 63 are sign extension. */
		buf[i] = shift >= 64 ? (v < 0 ? 0xFF : 0x00) : (uint8_t)((uint64_t)v >> shift);
	}
	if (v >= 0) {
		buf[0] |= snum_header[len][0];
		if (len > 1)
			buf[1] |= snum_header[len][1];
	} else {
		buf[0] &= (uint8_t)~snum_header[len][0];
		if (len > 1)
			buf[1] &= (uint8_t)~snum_header[len][1];
	}
	bytebuf_append(b, buf, (size_t)len);
}

int bundle_slice_key_encode(const char *name, size_t name_len, const struct bundle_slice *slice,
			    char **out, size_t *len)
{
	struct bytebuf b = { 0 };
	int rc;

	put_num_inc(&b, 0);
	put_str(&b, name, name_len);
	put_num_inc(&b, (uint64_t)slice->rank);
	for (int d = 0; d < slice->rank; d++) {
		put_snum_inc(&b, slice->extents[d].start);
		put_snum_inc(&b, slice->extents[d].length);
	}
	bytebuf_append(&b, "", 1); /* NUL terminator, not counted */
	if (b.err) {
		rc = b.err;
		bytebuf_release(&b);
		return rc;
	}
	*out = (char *)bytebuf_detach(&b, len);
	(*len)--;
	return 0;
}

/* ------------------------------------------------------------ decoding */

struct cursor {
	const uint8_t *p, *end;
};

static int get_num_inc(struct cursor *c, uint64_t *u)
{
	int n;

	if (c->p >= c->end || (n = *c->p) > 8 || c->end - c->p - 1 < n)
		return -EBADMSG;
	c->p++;
	*u = 0;
	for (int i = 0; i < n; i++)
		*u = (*u << 8) | *c->p++;
	return 0;
}

static int get_str(struct cursor *c, struct bytebuf *out)
{
	while (c->p + 1 < c->end) {
		uint8_t a = c->p[0], b = c->p[1];

		if (a == 0x00 && b == 0x01) {
			c->p += 2;
			return 0;
		}
		if ((a == 0x00 && b == 0xFF) || (a == 0xFF && b == 0x00)) {
			bytebuf_append(out, &a, 1);
			c->p += 2;
		} else if (a == 0x00 || a == 0xFF) {
			return -EBADMSG;
		} else {
			bytebuf_append(out, &a, 1);
			c->p++;
		}
	}
	return -EBADMSG;
}

static int get_snum_inc(struct cursor *c, int64_t *v)
{
	uint8_t buf[10];
	int neg, len = 0;
	uint16_t top;
	uint64_t x;

	if (c->p >= c->end)
		return -EBADMSG;
	neg = !(c->p[0] & 0x80);
	top = (uint16_t)(c->p[0] << 8 | (c->end - c->p > 1 ? c->p[1] : 0));
	if (neg)
		top = (uint16_t)~top;
	while (len < 10 && (top & (0x8000 >> len)))
		len++;
	if (len == 0 || c->end - c->p < len)
		return -EBADMSG;
	memcpy(buf, c->p, (size_t)len);
	buf[0] ^= snum_header[len][0];
	if (len > 1)
		buf[1] ^= snum_header[len][1];
	x = neg ? UINT64_MAX : 0;
	for (int i = 0; i < len; i++)
		x = (x << 8) | buf[i];
	c->p += len;
	*v = (int64_t)x;
	return snum_len(*v) == len ? 0 : -EBADMSG; /* canonical form only */
}

static int decode_extents(struct cursor *c, struct bundle_slice *slice)
{
	uint64_t rank;

	if (get_num_inc(c, &rank) || rank > BUNDLE_MAX_RANK)
		return -EBADMSG;
	slice->rank = (int)rank;
	slice->extents = calloc(rank + 1, sizeof(*slice->extents));
	if (!slice->extents)
		return -ENOMEM;
	for (uint64_t d = 0; d < rank; d++) {
		struct bundle_extent *x = &slice->extents[d];

		if (get_snum_inc(c, &x->start) || get_snum_inc(c, &x->length))
			return -EBADMSG;
	}
	return c->p == c->end ? 0 : -EBADMSG;
}

static int reencodes_to(const char *key, size_t key_len, const char *name, size_t name_len,
			const struct bundle_slice *s)
{
	char *again;
	size_t len;
	int same;

	if (bundle_slice_key_encode(name, name_len, s, &again, &len))
		return -ENOMEM;
	same = len == key_len && !memcmp(again, key, len);
	free(again);
	return same ? 0 : -EBADMSG;
}

int bundle_slice_key_decode(const char *key, size_t key_len, char **name, size_t *name_len,
			    struct bundle_slice *slice)
{
	struct cursor c = { (const uint8_t *)key, (const uint8_t *)key + key_len };
	struct bundle_slice s = { 0 };
	struct bytebuf nb = { 0 };
	uint64_t zero;
	int rc;

	rc = get_num_inc(&c, &zero);
	if (rc == 0 && zero != 0)
		rc = -EBADMSG;
	if (rc == 0)
		rc = get_str(&c, &nb);
	if (rc == 0)
		rc = decode_extents(&c, &s);
	bytebuf_append(&nb, "", 1);
	if (rc == 0 && nb.err)
		rc = nb.err;
	if (rc) {
		free(s.extents);
		bytebuf_release(&nb);
		return rc;
	}
	*name = (char *)bytebuf_detach(&nb, name_len);
	(*name_len)--;
	/*
	 * OrderedCode has one encoding per value; a key that decodes but does
	 * not re-encode to itself (a padded count, stray sign bits) is not
	 * one TensorFlow wrote, and would name a different piece.
	 */
	rc = reencodes_to(key, key_len, *name, *name_len, &s);
	if (rc) {
		free(*name);
		free(s.extents);
		return rc;
	}
	*slice = s;
	return 0;
}
