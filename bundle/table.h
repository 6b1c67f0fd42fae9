/*
 * table.h - the SSTable that a checkpoint's .index is: LevelDB's table
 * format without filter blocks (docs/checkpoint-format.md §2).
 *
 *   [data block][trailer] ... [metaindex block][trailer]
 *   [index block][trailer] [48-byte footer]
 *
 * This layer knows keys and values as bytes only; bundle entries are one
 * layer up (entry.c).
 */
#ifndef CKPTFS_BUNDLE_TABLE_H
#define CKPTFS_BUNDLE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define TABLE_MAGIC 0xdb4775248b80fb57ull
#define TABLE_FOOTER_SIZE 48
#define TABLE_TRAILER_SIZE 5      /* type byte + masked crc32c */
#define TABLE_BLOCK_SIZE 262144   /* TensorFlow's Options.block_size */
#define TABLE_RESTART_INTERVAL 16 /* data blocks; the index block uses 1 */

/* One key/value pair; both point into the owning table_contents' arena. */
struct table_kv {
	const uint8_t *key; /* followed by a NUL byte (not counted) */
	size_t key_len;
	const uint8_t *val;
	size_t val_len;
};

/* Every pair of a table, in file order. */
struct table_contents {
	struct table_kv *kvs; /* owned */
	size_t n;
	uint8_t *arena; /* owned; keys and values live here */
};

/*
 * Parse a whole table held in buf[0..len). Checks: footer and magic, every
 * block handle inside the file, every block's CRC and type (0 raw, 1
 * Snappy), restart arrays, entry varints within their block, keys strictly
 * increasing (memcmp order) across the whole table, index keys consistent
 * with their blocks. name appears in messages ("'x.index': block checksum
 * mismatch in index block"). On error returns -EBADMSG (corruption),
 * -ENOTSUP (unknown block type) or -ENOMEM. On success *out must be
 * released with table_contents_release().
 */
int table_read_all(const char *name, const uint8_t *buf, size_t len, struct table_contents *out,
		   char *err, size_t errlen);
/*
 * The same checks and result for the len bytes of the file fd, read block
 * by block with pread (the file offset is not used): memory is bounded by
 * the largest block plus the pairs, whatever len is. -EIO if a read fails
 * or the file shrinks.
 */
int table_read_fd(const char *name, int fd, uint64_t len, struct table_contents *out, char *err,
		  size_t errlen);
void table_contents_release(struct table_contents *c);

/*
 * Check only the footer's magic number, given the file's last
 * TABLE_FOOTER_SIZE bytes (or all of it, if shorter), the first thing both
 * readers do. Same messages as table_read_all(); 0 or -EBADMSG.
 */
int table_check_magic(const char *name, const uint8_t *tail, size_t len, char *err, size_t errlen);

/*
 * Builds a table byte-identical to TensorFlow's TableBuilder with
 * kNoCompression (block size, restart intervals, the 2 x block_size
 * pre-flush rule, shortest separators, successor key, empty metaindex).
 */
struct table_builder;

struct table_builder *table_builder_new(void); /* NULL on ENOMEM */
/*
 * REQUIRES: key strictly greater than the previous key (else -EINVAL, and
 * the error sticks). Returns 0 or the sticky error.
 */
int table_builder_add(struct table_builder *b, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len);
/* On success *out is malloc'd (*len bytes), the caller frees it. */
int table_builder_finish(struct table_builder *b, uint8_t **out, size_t *len);
void table_builder_free(struct table_builder *b);

#endif
