/*
 * table_build.c - write an SSTable exactly as TensorFlow's TableBuilder
 * does with kNoCompression. It mirrors TF decision for decision (§2.5,
 * §2.7) because synthesized indexes are compared byte for byte with
 * TF-written ones.
 */
#include "bundle/table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/block.h"
#include "bundle/bundle.h"
#include "bundle/internal.h"
#include "bundle/table_format.h"

struct table_builder {
	struct bytebuf file;       /* every byte written so far */
	struct block_builder data; /* the data block being filled */
	struct block_builder index;
	struct bytebuf last_key;
	uint64_t n_entries;
	/*
	 * A flushed block's index entry waits for the next key, so that its
	 * separator can be short (anything in [last key, next key)).
	 */
	int pending;
	struct handle pending_handle;
	int finished;
	int err; /* sticky: the first failure */
};

struct table_builder *table_builder_new(void)
{
	struct table_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	block_builder_init(&b->data, TABLE_RESTART_INTERVAL);
	/* Every index entry is a restart point: binary search hits it. */
	block_builder_init(&b->index, 1);
	return b;
}

void table_builder_free(struct table_builder *b)
{
	if (!b)
		return;
	bytebuf_release(&b->file);
	block_builder_release(&b->data);
	block_builder_release(&b->index);
	bytebuf_release(&b->last_key);
	free(b);
}

/* Fold allocation failures of the parts into the sticky error. */
static int tb_err(struct table_builder *b)
{
	if (b->err)
		return b->err;
	if (b->file.err)
		b->err = b->file.err;
	else if (b->last_key.err)
		b->err = b->last_key.err;
	else if (block_builder_err(&b->data))
		b->err = block_builder_err(&b->data);
	else
		b->err = block_builder_err(&b->index);
	return b->err;
}

static void write_raw_block(struct table_builder *b, const uint8_t *p, size_t n, uint8_t type,
			    struct handle *h)
{
	uint32_t crc = bundle_crc32c(0, p, n);

	/* The crc covers the type byte too, so a flipped type is caught. */
	crc = bundle_crc32c(crc, &type, 1);
	h->off = b->file.len;
	h->size = n;
	bytebuf_append(&b->file, p, n);
	bytebuf_append(&b->file, &type, 1);
	bytebuf_put_fixed32(&b->file, bundle_crc_mask(crc));
}

static void write_block(struct table_builder *b, struct block_builder *bb, struct handle *h)
{
	const uint8_t *p;
	size_t n;

	p = block_builder_finish(bb, &n);
	if (p)
		write_raw_block(b, p, n, BLOCK_RAW, h);
	block_builder_reset(bb);
}

static void flush_data(struct table_builder *b)
{
	if (tb_err(b) || b->data.n == 0)
		return;
	write_block(b, &b->data, &b->pending_handle);
	b->pending = 1;
}

static void add_index_entry(struct table_builder *b)
{
	uint8_t enc[MAX_HANDLE_LEN];

	block_builder_add(&b->index, b->last_key.data, b->last_key.len, enc,
			  put_handle(enc, &b->pending_handle));
	b->pending = 0;
}

/*
 * Shorten start (the last key of a block) to a separator s with
 * start <= s < limit (§2.5): bump the first differing byte if that still
 * stays below limit, and cut after it. Index keys get shorter, nothing else.
 */
static void shortest_separator(struct bytebuf *start, const uint8_t *limit, size_t limit_len)
{
	const size_t n = start->len < limit_len ? start->len : limit_len;
	size_t i = 0;

	while (i < n && start->data[i] == limit[i])
		i++;
	if (i == n)
		return; /* one is a prefix of the other: keep start */
	if (start->data[i] < 0xff && start->data[i] + 1 < limit[i]) {
		start->data[i]++;
		start->len = i + 1;
	}
}

/* The shortest key >= key: bump the first byte below 0xFF, cut after it. */
static void short_successor(struct bytebuf *key)
{
	for (size_t i = 0; i < key->len; i++) {
		if (key->data[i] != 0xff) {
			key->data[i]++;
			key->len = i + 1;
			return;
		}
	}
}

int table_builder_add(struct table_builder *b, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	if (tb_err(b))
		return b->err;
	if (b->finished || key_len > UINT32_MAX || val_len > UINT32_MAX ||
	    (b->n_entries > 0 && bytes_cmp(key, key_len, b->last_key.data, b->last_key.len) <= 0))
		return b->err = -EINVAL;
	/*
	 * TF's own rule: an entry of 2 x block_size or more starts a fresh
	 * block rather than bloating the current one.
	 */
	if (b->n_entries > 0 && key_len + val_len >= 2 * TABLE_BLOCK_SIZE)
		flush_data(b);
	if (b->pending) {
		shortest_separator(&b->last_key, key, key_len);
		add_index_entry(b);
	}
	b->last_key.len = 0;
	bytebuf_append(&b->last_key, key, key_len);
	b->n_entries++;
	block_builder_add(&b->data, key, key_len, val, val_len);
	if (block_builder_size(&b->data) >= TABLE_BLOCK_SIZE)
		flush_data(b);
	return tb_err(b);
}

static void write_footer(struct table_builder *b, const struct handle *meta,
			 const struct handle *index)
{
	uint8_t f[TABLE_FOOTER_SIZE] = { 0 };
	size_t n;

	n = put_handle(f, meta);
	put_handle(f + n, index);
	coding_put_fixed32(f + FOOTER_HANDLES_LEN, (uint32_t)TABLE_MAGIC);
	coding_put_fixed32(f + FOOTER_HANDLES_LEN + 4, (uint32_t)(TABLE_MAGIC >> 32));
	bytebuf_append(&b->file, f, sizeof(f));
}

int table_builder_finish(struct table_builder *b, uint8_t **out, size_t *len)
{
	struct block_builder meta;
	struct handle meta_h = { 0 }, index_h = { 0 };
	uint8_t *p;
	size_t n;

	if (b->finished)
		return -EINVAL;
	b->finished = 1;
	flush_data(b);
	if (tb_err(b))
		return b->err;
	/* Always written and always empty: TF has no meta blocks. */
	block_builder_init(&meta, TABLE_RESTART_INTERVAL);
	write_block(b, &meta, &meta_h);
	if (!b->err && block_builder_err(&meta))
		b->err = block_builder_err(&meta);
	block_builder_release(&meta);
	if (b->pending) {
		short_successor(&b->last_key);
		add_index_entry(b);
	}
	write_block(b, &b->index, &index_h);
	write_footer(b, &meta_h, &index_h);
	if (tb_err(b))
		return b->err;
	p = bytebuf_detach(&b->file, &n);
	if (!p)
		return b->err = -ENOMEM;
	*out = p;
	*len = n;
	return 0;
}
