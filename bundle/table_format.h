/*
 * table_format.h - what the table reader and builder share: block handles,
 * trailer types, key comparison (docs/checkpoint-format.md §2).
 *
 *   block + trailer:  bytes[size]  type:u8  masked_crc32c(bytes ‖ type):u32
 *   block handle:     varint64 offset, varint64 size (trailer excluded)
 *   footer (48 B):    metaindex handle, index handle, zeros up to 40,
 *                     fixed32 0x8B80FB57, fixed32 0xDB477524
 */
#ifndef CKPTFS_BUNDLE_TABLE_FORMAT_H
#define CKPTFS_BUNDLE_TABLE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bundle/coding.h"

#define MAX_HANDLE_LEN (2 * CODING_MAX_VARINT64)
#define FOOTER_HANDLES_LEN (2 * MAX_HANDLE_LEN) /* magic starts here */

enum {
	BLOCK_RAW = 0,
	BLOCK_SNAPPY = 1
};

struct handle {
	uint64_t off;
	uint64_t size;
};

static inline int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	const size_t n = alen < blen ? alen : blen;
	const int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return (alen > blen) - (alen < blen);
}

static inline size_t put_handle(uint8_t *dst, const struct handle *h)
{
	size_t n = coding_put_varint64(dst, h->off);

	return n + coding_put_varint64(dst + n, h->size);
}

static inline const uint8_t *get_handle(const uint8_t *p, const uint8_t *lim, struct handle *h)
{
	p = coding_get_varint64(p, lim, &h->off);
	return p ? coding_get_varint64(p, lim, &h->size) : NULL;
}

#endif
