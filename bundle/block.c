/*
 * block.c - build and walk one SSTable block (docs/checkpoint-format.md §2.2).
 *
 *   +--------------------+--------------------+-----+-----------+-------+
 *   | entry 0 (restart)  | entry 1            | ... | restarts  | count |
 *   +--------------------+--------------------+-----+-----------+-------+
 *   entry: shared  non_shared  value_len  key[shared..]  value
 *          varint32 varint32   varint32
 *   restarts: fixed32 offset of every restart entry (shared == 0), first 0
 *   count:    fixed32 number of restarts, >= 1
 *
 *   empty block: 00 00 00 00  01 00 00 00
 *
 * Restart points let a reader binary-search a block, so TF's reader
 * trusts them: a restart that does not land on a real entry, or lands on
 * one that leans on a previous key, would make lookups disagree with a
 * linear scan. The iterator here walks linearly and cross-checks both.
 */
#include "bundle/block.h"

#include <errno.h>
#include <string.h>

void block_builder_init(struct block_builder *bb, int interval)
{
	memset(bb, 0, sizeof(*bb));
	bb->interval = interval;
	bytebuf_put_fixed32(&bb->restarts, 0);
}

void block_builder_release(struct block_builder *bb)
{
	bytebuf_release(&bb->buf);
	bytebuf_release(&bb->restarts);
	bytebuf_release(&bb->last_key);
}

void block_builder_reset(struct block_builder *bb)
{
	bb->buf.len = 0;
	bb->restarts.len = 0;
	bb->last_key.len = 0;
	bb->counter = 0;
	bb->n = 0;
	bb->finished = 0;
	bytebuf_put_fixed32(&bb->restarts, 0);
}

static size_t common_prefix(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	const size_t n = alen < blen ? alen : blen;
	size_t i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i;
}

void block_builder_add(struct block_builder *bb, const uint8_t *key, size_t key_len,
		       const uint8_t *val, size_t val_len)
{
	size_t shared = 0;

	if (bb->counter < bb->interval) {
		shared = common_prefix(bb->last_key.data, bb->last_key.len, key, key_len);
	} else {
		bytebuf_put_fixed32(&bb->restarts, (uint32_t)bb->buf.len);
		bb->counter = 0;
	}
	bytebuf_put_varint32(&bb->buf, (uint32_t)shared);
	bytebuf_put_varint32(&bb->buf, (uint32_t)(key_len - shared));
	bytebuf_put_varint32(&bb->buf, (uint32_t)val_len);
	/* key may be NULL for the empty key: no pointer arithmetic on it */
	if (key_len > shared)
		bytebuf_append(&bb->buf, key + shared, key_len - shared);
	bytebuf_append(&bb->buf, val, val_len);

	/* The first `shared` bytes of last_key already equal key's. */
	bb->last_key.len = shared;
	if (key_len > shared)
		bytebuf_append(&bb->last_key, key + shared, key_len - shared);
	bb->counter++;
	bb->n++;
}

size_t block_builder_size(const struct block_builder *bb)
{
	return bb->buf.len + bb->restarts.len + 4;
}

int block_builder_err(const struct block_builder *bb)
{
	if (bb->buf.err)
		return bb->buf.err;
	if (bb->restarts.err)
		return bb->restarts.err;
	return bb->last_key.err;
}

const uint8_t *block_builder_finish(struct block_builder *bb, size_t *len)
{
	bytebuf_append(&bb->buf, bb->restarts.data, bb->restarts.len);
	bytebuf_put_fixed32(&bb->buf, (uint32_t)(bb->restarts.len / 4));
	bb->finished = 1;
	if (block_builder_err(bb))
		return NULL;
	*len = bb->buf.len;
	return bb->buf.data;
}

static uint32_t restart_at(const struct block_iter *it, uint32_t i)
{
	return coding_get_fixed32(it->data + it->entries_end + 4 * (size_t)i);
}

static int iter_fail(struct block_iter *it, const char *why)
{
	it->why = why;
	return -EBADMSG;
}

int block_iter_init(struct block_iter *it, const uint8_t *data, size_t len)
{
	uint32_t num;

	memset(it, 0, sizeof(*it));
	it->data = data;
	if (len < 4)
		return iter_fail(it, "block is too short for a restart count");
	num = coding_get_fixed32(data + len - 4);
	if (num == 0)
		return iter_fail(it, "block has no restart points");
	if (num > (len - 4) / 4)
		return iter_fail(it, "restart count does not fit the block");
	it->num_restarts = num;
	it->entries_end = len - 4 - 4 * (size_t)num;
	if (restart_at(it, 0) != 0)
		return iter_fail(it, "first restart point is not 0");
	for (uint32_t i = 1; i < num; i++) {
		const uint32_t r = restart_at(it, i);

		if (r <= restart_at(it, i - 1) || r >= it->entries_end)
			return iter_fail(it, "bad restart array");
	}
	return 0;
}

/* Whether the entry at it->pos must be a restart point (and consume it). */
static int at_restart(struct block_iter *it, int *is_restart)
{
	uint32_t r;

	*is_restart = 0;
	if (it->next_restart >= it->num_restarts)
		return 0;
	r = restart_at(it, it->next_restart);
	if (r < it->pos)
		return iter_fail(it, "restart point inside an entry");
	if (r == it->pos && it->pos < it->entries_end) {
		*is_restart = 1;
		it->next_restart++;
	}
	return 0;
}

int block_iter_next(struct block_iter *it)
{
	const uint8_t *p = it->data + it->pos;
	const uint8_t *const lim = it->data + it->entries_end;
	uint32_t shared, unshared, vlen;
	int is_restart;

	if (at_restart(it, &is_restart))
		return -EBADMSG;
	if (it->pos >= it->entries_end)
		return 0;
	p = coding_get_varint32(p, lim, &shared);
	if (p)
		p = coding_get_varint32(p, lim, &unshared);
	if (p)
		p = coding_get_varint32(p, lim, &vlen);
	if (!p)
		return iter_fail(it, "bad entry header (truncated varint)");
	if (is_restart && shared != 0)
		return iter_fail(it, "restart entry shares a prefix");
	if (shared > it->key.len)
		return iter_fail(it, "shared prefix longer than previous key");
	if (unshared > (size_t)(lim - p) || vlen > (size_t)(lim - p) - unshared)
		return iter_fail(it, "entry runs past the end of the block");

	it->key.len = shared;
	bytebuf_append(&it->key, p, unshared);
	if (it->key.err)
		return it->key.err;
	it->val = p + unshared;
	it->val_len = vlen;
	it->pos = (size_t)(it->val + vlen - it->data);
	return 1;
}

void block_iter_release(struct block_iter *it) { bytebuf_release(&it->key); }
