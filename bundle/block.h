/*
 * block.h - one SSTable block: a builder and a validating iterator
 * (docs/checkpoint-format.md §2.2). Private to bundle/.
 *
 *   entry*  restart_offset[num_restarts] (fixed32)  num_restarts (fixed32)
 *   entry = varint32 shared, varint32 non_shared, varint32 value_len,
 *           key bytes [shared, shared + non_shared), value
 */
#ifndef CKPTFS_BUNDLE_BLOCK_H
#define CKPTFS_BUNDLE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "bundle/coding.h"

/*
 * Builds one block in memory. Keys are prefix-compressed against the
 * previous key, restarting (shared = 0) every `interval` entries. The
 * builder does not check key order (tests assemble unsorted blocks with
 * it); table_builder does. Memory errors are sticky: see block_builder_err.
 */
struct block_builder {
	struct bytebuf buf;      /* entries; the restart array after finish */
	struct bytebuf restarts; /* fixed32 entry offsets, already encoded */
	struct bytebuf last_key;
	int interval; /* >= 1 */
	int counter;  /* entries since the last restart point */
	size_t n;     /* entries added since the last reset */
	int finished;
};

/* Start an empty block. REQUIRES: interval >= 1. */
void block_builder_init(struct block_builder *bb, int interval);
/* Free the builder's memory. */
void block_builder_release(struct block_builder *bb);
/* Empty the block for reuse (keeps memory and a sticky error). */
void block_builder_reset(struct block_builder *bb);
/* REQUIRES: not finished since the last reset. */
void block_builder_add(struct block_builder *bb, const uint8_t *key, size_t key_len,
		       const uint8_t *val, size_t val_len);
/* Bytes finish would produce now (TF's CurrentSizeEstimate). */
size_t block_builder_size(const struct block_builder *bb);
/* 0, or -ENOMEM if any allocation has failed since init. */
int block_builder_err(const struct block_builder *bb);
/*
 * Append the restart array and return the block's bytes (*len of them),
 * owned by bb and valid until the next reset/release; NULL on -ENOMEM.
 */
const uint8_t *block_builder_finish(struct block_builder *bb, size_t *len);

/*
 * Walks a block's entries in order, checking as it goes: the restart array
 * fits, restart[0] is 0 and offsets increase, every restart point is the
 * start of an entry with shared == 0, varints and key/value bytes stay
 * inside the entry area, shared never exceeds the previous key's length.
 * It does not check key order (the table layer does, across blocks).
 */
struct block_iter {
	const uint8_t *data; /* the block; borrowed */
	size_t entries_end;  /* where the restart array begins */
	uint32_t num_restarts;
	uint32_t next_restart; /* index of the next restart point due */
	size_t pos;            /* offset of the next entry */
	struct bytebuf key;    /* current key; owned */
	const uint8_t *val;    /* current value, points into data */
	size_t val_len;
	const char *why; /* static reason after -EBADMSG */
};

/*
 * Check the restart array of data[0..len) and point before the first
 * entry. 0, or -EBADMSG with it->why set. Release the iterator either way.
 */
int block_iter_init(struct block_iter *it, const uint8_t *data, size_t len);
/*
 * Step to the next entry: 1 with it->key / it->val set, 0 at the end,
 * -EBADMSG (it->why set) or -ENOMEM.
 */
int block_iter_next(struct block_iter *it);
void block_iter_release(struct block_iter *it);

#endif
