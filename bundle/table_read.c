/*
 * table_read.c - parse a whole SSTable (a checkpoint's .index) into its
 * key/value pairs; layout in table.h and table_format.h, blocks in block.c.
 *
 * The reader is strict: it checks everything TF's reader would trip over
 * at some later lookup, up front, so a bad index fails at open with a
 * message naming the file and the block.
 *
 * The table is in memory (table_read_all) or in a file (table_read_fd).
 * A file is read the way TensorFlow reads it, block by block: the footer,
 * the index block, then each data block into one reused buffer, so a huge
 * or sparse file costs no more memory than its largest block plus the
 * pairs it holds, and a block handle is checked against the file's size
 * before anything is allocated for it.
 */
#include "bundle/table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "bundle/block.h"
#include "bundle/bundle.h"
#include "bundle/internal.h"
#include "bundle/table_format.h"
#include "util/util.h"

/* Where a key/value pair will sit in the arena (which may still move). */
struct kv_off {
	size_t key, key_len, val, val_len;
};

/* Where raw block bytes are read to, reused from one block to the next. */
struct scratch {
	uint8_t *p; /* owned */
	size_t cap;
};

struct table_reader {
	const char *name;
	const uint8_t *buf; /* the table in memory (fd < 0) */
	int fd;             /* else: the file to read it from */
	uint64_t len;       /* bytes in the table */
	char *err;
	size_t errlen;
	struct bytebuf arena; /* key NUL value key NUL value ... */
	struct kv_off *offs;
	size_t n, cap;
	struct scratch blocks; /* the footer, the metaindex, each data block */
};

/*
 * A block's contents: borrowed from the table's buffer or a scratch
 * buffer, or owned when decompressed.
 */
struct block_data {
	const uint8_t *data;
	size_t len;
	uint8_t *owned;
};

static int oom(struct table_reader *tr)
{
	return bundle_errf(tr->err, tr->errlen, -ENOMEM, "'%s': out of memory", tr->name);
}

int table_check_magic(const char *name, const uint8_t *tail, size_t len, char *err, size_t errlen)
{
	if (len < TABLE_FOOTER_SIZE)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': file is too short to be an sstable", name);
	if (coding_get_fixed64(tail + FOOTER_HANDLES_LEN) != TABLE_MAGIC)
		return bundle_errf(err, errlen, -EBADMSG, "'%s': not an sstable (bad magic number)",
				   name);
	return 0;
}

/*
 * Bytes [off, off + n) of the table into *out: a pointer into the table's
 * buffer, or read into s (grown to exactly n if need be, so it ends as
 * large as the largest block). REQUIRES: the range lies in the table.
 */
static int fetch(struct table_reader *tr, uint64_t off, size_t n, struct scratch *s,
		 const uint8_t **out)
{
	ssize_t got;

	if (tr->fd < 0) {
		*out = tr->buf + off;
		return 0;
	}
	if (n > s->cap) {
		uint8_t *p = realloc(s->p, n);

		if (!p)
			return oom(tr);
		s->p = p;
		s->cap = n;
	}
	got = util_pread_full(tr->fd, s->p, n, (int64_t)off);
	if (got < 0 || (size_t)got < n)
		return bundle_errf(tr->err, tr->errlen, -EIO, "'%s': read failed: %s", tr->name,
				   got < 0 ? strerror((int)-got) : "file shrank");
	*out = s->p;
	return 0;
}

static int read_footer(struct table_reader *tr, struct handle *meta, struct handle *index)
{
	const size_t n = tr->len < TABLE_FOOTER_SIZE ? (size_t)tr->len : TABLE_FOOTER_SIZE;
	const uint8_t *f, *p;
	int rc = fetch(tr, tr->len - n, n, &tr->blocks, &f);

	if (!rc)
		rc = table_check_magic(tr->name, f, n, tr->err, tr->errlen);
	if (rc)
		return rc;
	p = get_handle(f, f + FOOTER_HANDLES_LEN, meta);
	if (p)
		p = get_handle(p, f + FOOTER_HANDLES_LEN, index);
	if (!p)
		return bundle_errf(tr->err, tr->errlen, -EBADMSG,
				   "'%s': bad block handle in footer", tr->name);
	return 0;
}

static int snappy_block(struct table_reader *tr, const char *part, const uint8_t *src, size_t n,
			struct block_data *out)
{
	const char *const in = (const char *)src;
	size_t ulen, got;

	/*
	 * Validate before trusting the length prefix, so a corrupt length
	 * cannot make us allocate gigabytes.
	 */
	if (snappy_validate_compressed_buffer(in, n) != SNAPPY_OK ||
	    snappy_uncompressed_length(in, n, &ulen) != SNAPPY_OK)
		return bundle_errf(tr->err, tr->errlen, -EBADMSG, "'%s': corrupt snappy data in %s",
				   tr->name, part);
	out->owned = malloc(ulen ? ulen : 1);
	if (!out->owned)
		return oom(tr);
	got = ulen;
	if (snappy_uncompress(in, n, (char *)out->owned, &got) != SNAPPY_OK || got != ulen)
		return bundle_errf(tr->err, tr->errlen, -EBADMSG, "'%s': corrupt snappy data in %s",
				   tr->name, part);
	out->data = out->owned;
	out->len = ulen;
	return 0;
}

/*
 * Fetch (into s, for a file), checksum and if need be decompress the block
 * h points at, into *out (whose owned pointer the caller frees, also on
 * error; its data may point into s, valid until s is reused).
 */
static int load_block(struct table_reader *tr, const char *part, const struct handle *h,
		      struct scratch *s, struct block_data *out)
{
	/* Blocks precede the footer; anything reaching into it is corrupt. */
	const uint64_t end = tr->len - TABLE_FOOTER_SIZE;
	const uint8_t *data, *trailer;
	uint32_t crc;
	int rc;

	memset(out, 0, sizeof(*out));
	if (h->off > end || h->size > end - h->off || TABLE_TRAILER_SIZE > end - h->off - h->size)
		return bundle_errf(tr->err, tr->errlen, -EBADMSG,
				   "'%s': bad block handle for %s (offset %" PRIu64
				   ", size %" PRIu64 ", blocks end at %" PRIu64 ")",
				   tr->name, part, h->off, h->size, end);
	rc = fetch(tr, h->off, (size_t)h->size + TABLE_TRAILER_SIZE, s, &data);
	if (rc)
		return rc;
	trailer = data + h->size;
	crc = bundle_crc32c(0, data, (size_t)h->size);
	crc = bundle_crc32c(crc, trailer, 1);
	if (bundle_crc_mask(crc) != coding_get_fixed32(trailer + 1))
		return bundle_errf(tr->err, tr->errlen, -EBADMSG,
				   "'%s': block checksum mismatch in %s", tr->name, part);
	if (trailer[0] == BLOCK_SNAPPY)
		return snappy_block(tr, part, data, (size_t)h->size, out);
	if (trailer[0] != BLOCK_RAW)
		return bundle_errf(tr->err, tr->errlen, -ENOTSUP,
				   "'%s': unknown block compression type %d "
				   "in %s",
				   tr->name, trailer[0], part);
	out->data = data;
	out->len = (size_t)h->size;
	return 0;
}

static int iter_err(struct table_reader *tr, const char *part, struct block_iter *it, int rc)
{
	if (rc == -ENOMEM)
		return oom(tr);
	return bundle_errf(tr->err, tr->errlen, rc, "'%s': %s: %s", tr->name, part, it->why);
}

/* TF never reads the metaindex, but a corrupt one means a corrupt file. */
static int check_metaindex(struct table_reader *tr, const struct handle *h)
{
	static const char part[] = "metaindex block";
	struct block_data blk;
	struct block_iter it;
	int rc;

	struct bytebuf prev = { 0 };
	int have_prev = 0;

	rc = load_block(tr, part, h, &tr->blocks, &blk);
	if (!rc) {
		rc = block_iter_init(&it, blk.data, blk.len);
		while (!rc && (rc = block_iter_next(&it)) == 1) {
			/* a sorted table, like the others: keys strictly increase */
			if (have_prev &&
			    bundle_key_cmp((const char *)prev.data, prev.len,
					   (const char *)it.key.data, it.key.len) >= 0) {
				it.why = "keys out of order";
				rc = -EBADMSG;
				break;
			}
			prev.len = 0;
			bytebuf_append(&prev, it.key.data, it.key.len);
			rc = prev.err;
			have_prev = 1;
		}
		if (rc)
			rc = iter_err(tr, part, &it, rc);
		block_iter_release(&it);
	}
	bytebuf_release(&prev);
	free(blk.owned);
	return rc;
}

/* Append one pair, enforcing strictly increasing keys across the table. */
static int add_kv(struct table_reader *tr, size_t blockno, const struct block_iter *it)
{
	static const uint8_t nul;
	struct kv_off *o;

	if (tr->n > 0) {
		const struct kv_off *prev = &tr->offs[tr->n - 1];
		const int c = bytes_cmp(tr->arena.data + prev->key, prev->key_len, it->key.data,
					it->key.len);

		if (c >= 0)
			return bundle_errf(tr->err, tr->errlen, -EBADMSG,
					   "'%s': data block %zu: %s", tr->name, blockno,
					   c ? "keys out of order" : "duplicate key");
	}
	o = util_grow(tr->offs, &tr->cap, tr->n + 1, sizeof(*o));
	if (!o)
		return oom(tr);
	tr->offs = o;
	o = &tr->offs[tr->n++];
	o->key = tr->arena.len;
	o->key_len = it->key.len;
	bytebuf_append(&tr->arena, it->key.data, it->key.len);
	bytebuf_append(&tr->arena, &nul, 1);
	o->val = tr->arena.len;
	o->val_len = it->val_len;
	bytebuf_append(&tr->arena, it->val, it->val_len);
	return tr->arena.err ? oom(tr) : 0;
}

/*
 * The checks on one data-block entry that need the table around it. A
 * lookup for a key goes to the first block whose index key is >= it, so
 * every key of block `blockno` must lie in (prev, its index key]; prev is
 * the previous block's index key (NULL for block 0).
 */
static int take_entry(struct table_reader *tr, size_t blockno, int first,
		      const struct block_iter *it, const struct bytebuf *prev)
{
	if (first && prev && bytes_cmp(it->key.data, it->key.len, prev->data, prev->len) <= 0)
		return bundle_errf(tr->err, tr->errlen, -EBADMSG,
				   "'%s': data block %zu: first key is not "
				   "above the previous index key",
				   tr->name, blockno);
	return add_kv(tr, blockno, it);
}

/* Copy out the pairs of data block `blockno`, whose index key is sep. */
static int walk_data(struct table_reader *tr, size_t blockno, const struct block_data *blk,
		     const struct bytebuf *sep, const struct bytebuf *prev)
{
	char part[48];
	struct block_iter it;
	const size_t first = tr->n;
	int rc;

	snprintf(part, sizeof(part), "data block %zu", blockno);
	rc = block_iter_init(&it, blk->data, blk->len);
	while (!rc && (rc = block_iter_next(&it)) == 1) {
		rc = take_entry(tr, blockno, tr->n == first, &it, prev);
		if (rc)
			goto out;
	}
	if (rc) {
		rc = iter_err(tr, part, &it, rc);
		goto out;
	}
	if (tr->n > first && bytes_cmp(it.key.data, it.key.len, sep->data, sep->len) > 0)
		rc = bundle_errf(tr->err, tr->errlen, -EBADMSG,
				 "'%s': index key of %s is below its last key", tr->name, part);
out:
	block_iter_release(&it);
	return rc;
}

/* One index entry: its handle's data block, read and copied out. */
static int index_entry(struct table_reader *tr, size_t blockno, const struct block_iter *it,
		       const struct bytebuf *prev)
{
	const uint8_t *const lim = it->val + it->val_len;
	struct block_data blk;
	struct handle h;
	char part[48];
	int rc;

	/* TF writes a handle and nothing else; extra bytes mean damage. */
	if (get_handle(it->val, lim, &h) != lim)
		return bundle_errf(tr->err, tr->errlen, -EBADMSG,
				   "'%s': bad block handle in index block "
				   "for data block %zu",
				   tr->name, blockno);
	if (prev && bytes_cmp(prev->data, prev->len, it->key.data, it->key.len) >= 0)
		return bundle_errf(tr->err, tr->errlen, -EBADMSG,
				   "'%s': index block: keys out of order", tr->name);
	snprintf(part, sizeof(part), "data block %zu", blockno);
	rc = load_block(tr, part, &h, &tr->blocks, &blk);
	if (!rc)
		rc = walk_data(tr, blockno, &blk, &it->key, prev);
	free(blk.owned);
	return rc;
}

static int walk_index(struct table_reader *tr, const struct handle *h)
{
	static const char part[] = "index block";
	struct bytebuf prev = { 0 }; /* the previous entry's key */
	struct scratch own = { 0 };  /* data blocks reuse tr->blocks meanwhile */
	struct block_data blk;
	struct block_iter it;
	size_t blockno = 0;
	int rc;

	rc = load_block(tr, part, h, &own, &blk);
	if (rc)
		goto out_blk;
	rc = block_iter_init(&it, blk.data, blk.len);
	while (!rc && (rc = block_iter_next(&it)) == 1) {
		rc = index_entry(tr, blockno, &it, blockno ? &prev : NULL);
		if (rc)
			goto out; /* message already written */
		prev.len = 0;
		bytebuf_append(&prev, it.key.data, it.key.len);
		if (prev.err) {
			rc = oom(tr);
			goto out;
		}
		blockno++;
	}
	if (rc)
		rc = iter_err(tr, part, &it, rc);
out:
	block_iter_release(&it);
	bytebuf_release(&prev);
out_blk:
	free(blk.owned);
	free(own.p);
	return rc;
}

/*
 * Turn arena offsets into pointers now that the arena stops moving, in
 * place (a kv_off and a table_kv are the same size), and give back what
 * doubling left unused: a table's pairs are held once, at their size.
 */
static int finish_contents(struct table_reader *tr, struct table_contents *out)
{
	struct table_kv *kvs = NULL;
	uint8_t *arena;
	size_t len = tr->arena.len;

	_Static_assert(sizeof(struct kv_off) == sizeof(struct table_kv),
		       "pairs are converted in place");
	arena = bytebuf_detach(&tr->arena, NULL);
	if (!arena)
		return oom(tr);
	if (len) {
		uint8_t *exact = realloc(arena, len);

		arena = exact ? exact : arena;
	}
	if (tr->n) {
		kvs = realloc(tr->offs, tr->n * sizeof(*kvs));
		kvs = kvs ? kvs : (struct table_kv *)(void *)tr->offs;
		tr->offs = NULL;
	}
	for (size_t i = 0; i < tr->n; i++) {
		struct kv_off o;

		memcpy(&o, &kvs[i], sizeof(o));
		kvs[i] = (struct table_kv){ arena + o.key, o.key_len, arena + o.val, o.val_len };
	}
	out->kvs = kvs;
	out->n = tr->n;
	out->arena = arena;
	return 0;
}

/* Both front doors: the footer, the metaindex, the index, its blocks. */
static int read_table(struct table_reader *tr, struct table_contents *out)
{
	struct handle meta, index;
	int rc;

	rc = read_footer(tr, &meta, &index);
	if (!rc)
		rc = check_metaindex(tr, &meta);
	if (!rc)
		rc = walk_index(tr, &index);
	if (!rc)
		rc = finish_contents(tr, out);
	bytebuf_release(&tr->arena);
	free(tr->offs);
	free(tr->blocks.p);
	return rc;
}

int table_read_all(const char *name, const uint8_t *buf, size_t len, struct table_contents *out,
		   char *err, size_t errlen)
{
	struct table_reader tr = {
		.name = name,
		.buf = buf,
		.fd = -1,
		.len = len,
		.err = err,
		.errlen = errlen,
	};

	return read_table(&tr, out);
}

int table_read_fd(const char *name, int fd, uint64_t len, struct table_contents *out, char *err,
		  size_t errlen)
{
	struct table_reader tr = {
		.name = name,
		.fd = fd,
		.len = len,
		.err = err,
		.errlen = errlen,
	};

	return read_table(&tr, out);
}

void table_contents_release(struct table_contents *c)
{
	free(c->kvs);
	free(c->arena);
	memset(c, 0, sizeof(*c));
}
