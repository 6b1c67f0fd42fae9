/*
 * index.c - parse a .index into its entries (bundle_index) with the strict
 * checks of bundle.h: a known header, decodable entries in key order,
 * shard ids in range and partitioned variables whose pieces all exist.
 * What ckptfs later serves is known-good before any mount.
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/entry.h"
#include "bundle/internal.h"
#include "bundle/table.h"
#include "util/util.h"

/*
 * One entry as the index keeps it: 32 bytes, where struct bundle_entry
 * takes 72 (a million-tensor index holds a million of these, and a merge
 * holds every source's at once). Pointers are offsets into the index's
 * arrays, a key ends where the next one begins, and the rare entry that
 * does not fit (a partitioned one, a shard id of 0xffff or more) keeps
 * the rest in idx->odd. bundle_index_entry_at() expands a record.
 */
struct entry_rec {
	int64_t offset; /* REC_ODD: its place in idx->odd instead */
	int64_t size;
	uint32_t key_off;  /* in idx->keys */
	uint32_t dims_off; /* in idx->dims */
	uint32_t crc32c;
	uint16_t shard_id; /* REC_ODD: see idx->odd */
	uint8_t dtype;     /* entry_decode() takes known dtypes only, all < 256 */
	uint8_t rank;      /* <= BUNDLE_MAX_RANK */
};

#define REC_ODD UINT16_MAX

/* entry_decode() refuses a dtype it does not know: the known fit a byte. */
_Static_assert(BUNDLE_DT_MAX <= UINT8_MAX, "entry_rec.dtype is a byte");

/* What a record cannot hold (few per index, if any). */
struct odd_rec {
	struct bundle_slice *slices; /* in idx->arena */
	size_t n_slices;
	int64_t offset;
	int32_t shard_id;
};

struct bundle_index {
	char *name;                  /* owned; for messages */
	struct table_contents table; /* owned while parsing; released after */
	char *keys;                  /* owned: the entries' keys, NUL after each */
	size_t keys_len;
	int64_t *dims; /* owned: every entry's dims, in key order */
	size_t n_dims, cap_dims;
	struct odd_rec *odd; /* owned, n_odd items */
	size_t n_odd, cap_odd;
	struct util_arena arena;   /* owned; the slices' extents */
	struct util_arena scratch; /* entry_decode()'s, one entry at a time */
	struct bundle_header header;
	struct entry_rec *recs; /* owned, n items, key order */
	size_t n;
};

static int check_header(struct bundle_index *idx, char *err, size_t errlen)
{
	const struct table_kv *kv = idx->table.n ? &idx->table.kvs[0] : NULL;
	struct bundle_header *h = &idx->header;

	if (!kv || kv->key_len != 0)
		return bundle_errf(err, errlen, -EBADMSG, "'%s': no header entry (empty key)",
				   idx->name);
	if (header_decode(kv->val, kv->val_len, h))
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': header is not a parseable BundleHeaderProto", idx->name);
	if (h->endianness != 0)
		return bundle_errf(err, errlen, -ENOTSUP,
				   "'%s': big-endian bundle (only little-endian is supported)",
				   idx->name);
	if (h->producer < 0 || h->min_consumer > BUNDLE_CONSUMER || h->bad_consumer_is_us)
		return bundle_errf(
			err, errlen, -ENOTSUP,
			"'%s': unsupported format version (producer %d, min_consumer %d)",
			idx->name, h->producer, h->min_consumer);
	if (h->num_shards < 1)
		return bundle_errf(err, errlen, -EBADMSG, "'%s': header has num_shards %d",
				   idx->name, h->num_shards);
	return 0;
}

/* Entry i's key length: up to the NUL before the next key. */
static size_t key_len(const struct bundle_index *idx, size_t i)
{
	size_t end = i + 1 < idx->n ? idx->recs[i + 1].key_off : idx->keys_len;

	return end - idx->recs[i].key_off - 1;
}

static struct bundle_entry expand(const struct bundle_index *idx, size_t i)
{
	const struct entry_rec *r = &idx->recs[i];
	struct bundle_entry e = {
		.key = idx->keys + r->key_off,
		.key_len = key_len(idx, i),
		.dims = idx->dims + r->dims_off,
		.dtype = r->dtype,
		.rank = r->rank,
		.crc32c = r->crc32c,
	};

	bundle_index_entry_place(idx, i, &e.shard_id, &e.offset, &e.size);
	if (r->shard_id == REC_ODD) {
		e.n_slices = idx->odd[r->offset].n_slices;
		e.slices = idx->odd[r->offset].slices;
	}
	return e;
}

/*
 * The keys, packed with a NUL after each, before anything is decoded: the
 * table's copy goes once the entries are, and records hold offsets.
 */
static int keep_keys(struct bundle_index *idx, char *err, size_t errlen)
{
	size_t total = 1;
	char *w;

	idx->n = idx->table.n - 1;
	idx->recs = calloc(idx->n + 1, sizeof(*idx->recs));
	if (!idx->recs)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < idx->n; i++)
		total += idx->table.kvs[i + 1].key_len + 1;
	if (total > UINT32_MAX)
		return bundle_errf(err, errlen, -EFBIG, "'%s': over 4 GiB of tensor names",
				   idx->name);
	idx->keys = w = malloc(total);
	if (!w)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < idx->n; i++) {
		const struct table_kv *kv = &idx->table.kvs[i + 1];

		memcpy(w, kv->key, kv->key_len);
		w[kv->key_len] = '\0';
		idx->recs[i].key_off = (uint32_t)(w - idx->keys);
		w += kv->key_len + 1;
	}
	idx->keys_len = (size_t)(w - idx->keys);
	return 0;
}

/* What the record of e cannot hold, slices copied out of the scratch arena. */
static int keep_odd(struct bundle_index *idx, struct entry_rec *r, const struct bundle_entry *e)
{
	struct odd_rec *o = util_grow(idx->odd, &idx->cap_odd, idx->n_odd + 1, sizeof(*o));
	struct bundle_slice *slices = NULL;

	if (!o)
		return -ENOMEM;
	idx->odd = o;
	if (e->n_slices && !(slices = util_arena_alloc(&idx->arena, e->n_slices * sizeof(*slices))))
		return -ENOMEM;
	for (size_t i = 0; i < e->n_slices; i++) {
		size_t bytes = (size_t)e->rank * sizeof(*slices[i].extents);

		slices[i].rank = e->slices[i].rank;
		slices[i].extents = util_arena_alloc(&idx->arena, bytes ? bytes : 1);
		if (!slices[i].extents)
			return -ENOMEM;
		if (bytes)
			memcpy(slices[i].extents, e->slices[i].extents, bytes);
	}
	idx->odd[idx->n_odd] = (struct odd_rec){ slices, e->n_slices, e->offset, e->shard_id };
	r->offset = (int64_t)idx->n_odd++;
	r->shard_id = REC_ODD;
	return 0;
}

/* Record a decoded entry: its dims appended to idx->dims, its slices kept. */
static int keep_entry(struct bundle_index *idx, struct entry_rec *r, const struct bundle_entry *e)
{
	int64_t *dims = util_grow(idx->dims, &idx->cap_dims, idx->n_dims + (size_t)e->rank + 1,
				  sizeof(*dims));

	if (!dims)
		return -ENOMEM;
	idx->dims = dims;
	if (idx->n_dims + (size_t)e->rank > UINT32_MAX)
		return -EFBIG;
	r->dims_off = (uint32_t)idx->n_dims;
	if (e->rank)
		memcpy(dims + idx->n_dims, e->dims, (size_t)e->rank * sizeof(*dims));
	idx->n_dims += (size_t)e->rank;
	r->offset = e->offset;
	r->size = e->size;
	r->crc32c = e->crc32c;
	r->shard_id = (uint16_t)e->shard_id;
	r->dtype = (uint8_t)e->dtype;
	r->rank = (uint8_t)e->rank;
	if (e->n_slices || e->shard_id < 0 || e->shard_id >= REC_ODD)
		return keep_odd(idx, r, e);
	return 0;
}

/* Give back what growing reserved: the dims array is final. */
static void trim_dims(struct bundle_index *idx)
{
	int64_t *d = realloc(idx->dims, (idx->n_dims + 1) * sizeof(*d));

	if (d) {
		idx->dims = d;
		idx->cap_dims = idx->n_dims + 1;
	}
}

static int decode_entries(struct bundle_index *idx, char *err, size_t errlen)
{
	char msg[BUNDLE_ERR_MAX], name[512];

	for (size_t i = 0; i < idx->n; i++) {
		const struct table_kv *kv = &idx->table.kvs[i + 1];
		struct bundle_entry e = { .key = (const char *)kv->key, .key_len = kv->key_len };
		int rc;

		util_arena_reset(&idx->scratch);
		rc = entry_decode(kv->val, kv->val_len, &idx->scratch, &e, msg, sizeof(msg));
		if (rc)
			return bundle_errf(err, errlen, rc, "'%s': tensor '%s': %s", idx->name,
					   bundle_entry_name(&e, name, sizeof(name)), msg);
		if (e.shard_id >= idx->header.num_shards)
			return bundle_errf(
				err, errlen, -EBADMSG,
				"'%s': tensor '%s': shard_id %d out of range (num_shards %d)",
				idx->name, bundle_entry_name(&e, name, sizeof(name)), e.shard_id,
				idx->header.num_shards);
		rc = keep_entry(idx, &idx->recs[i], &e);
		if (rc == -EFBIG)
			return bundle_errf(err, errlen, rc, "'%s': over 2^32 dimensions in all",
					   idx->name);
		if (rc)
			return bundle_errf(err, errlen, rc, "out of memory");
	}
	util_arena_release(&idx->scratch);
	trim_dims(idx);
	return 0;
}

size_t bundle_index_find(const struct bundle_index *idx, const char *key, size_t len)
{
	size_t lo = 0, hi = idx->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = bundle_key_cmp(idx->keys + idx->recs[mid].key_off, key_len(idx, mid), key,
				       len);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return BUNDLE_NOT_FOUND;
}

/* "[start:length,-]" (a '-' is a whole dimension), as bundle_entry_name() */
static const char *slice_text(const struct bundle_slice *s, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "[");

	for (int d = 0; d < s->rank && used < len; d++) {
		if (s->extents[d].length < 0)
			used += (size_t)snprintf(buf + used, len - used, "%s-", d ? "," : "");
		else
			used += (size_t)snprintf(buf + used, len - used, "%s%lld:%lld",
						 d ? "," : "", (long long)s->extents[d].start,
						 (long long)s->extents[d].length);
	}
	if (used < len)
		snprintf(buf + used, len - used, "]");
	return buf;
}

/* A piece must exist, be unclaimed, and match its full tensor. */
static int check_piece(const struct bundle_index *idx, const struct bundle_entry *full,
		       const struct bundle_slice *s, unsigned char *claimed, char *err,
		       size_t errlen)
{
	struct bundle_entry piece;
	const struct bundle_entry *p = &piece;
	char *key, text[256];
	size_t len, at;
	int rc;

	rc = bundle_slice_key_encode(full->key, full->key_len, s, &key, &len);
	if (rc)
		return bundle_errf(err, errlen, rc, "out of memory");
	at = bundle_index_find(idx, key, len);
	free(key);
	if (at == BUNDLE_NOT_FOUND)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': partitioned tensor '%s': piece %s is missing", idx->name,
				   full->key, slice_text(s, text, sizeof(text)));
	piece = bundle_index_entry_at(idx, at);
	if (claimed[at]++)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': partitioned tensor '%s': piece %s is listed twice",
				   idx->name, full->key, slice_text(s, text, sizeof(text)));
	if (p->n_slices || p->dtype != full->dtype || p->rank != full->rank)
		return bundle_errf(
			err, errlen, -EBADMSG,
			"'%s': partitioned tensor '%s': piece %s does not match it (%s of rank %d; the tensor is %s of rank %d)",
			idx->name, full->key, slice_text(s, text, sizeof(text)),
			p->n_slices ? "partitioned" : bundle_dtype_name(p->dtype), p->rank,
			bundle_dtype_name(full->dtype), full->rank);
	for (int d = 0; d < s->rank; d++) {
		int64_t want = s->extents[d].length < 0 ? full->dims[d] : s->extents[d].length;

		/* start > dims - want, not start + want > dims: no overflow */
		if (p->dims[d] != want || want > full->dims[d] ||
		    s->extents[d].start > full->dims[d] - want)
			return bundle_errf(
				err, errlen, -EBADMSG,
				"'%s': partitioned tensor '%s': piece shape does not match its slice",
				idx->name, full->key);
	}
	return 0;
}

static int check_pieces(const struct bundle_index *idx, char *err, size_t errlen)
{
	unsigned char *claimed = NULL;
	int rc = 0;

	for (size_t i = 0; i < idx->n && rc == 0; i++) {
		const struct bundle_entry e = bundle_index_entry_at(idx, i);

		if (!e.n_slices)
			continue;
		if (!claimed && !(claimed = calloc(idx->n, 1)))
			return bundle_errf(err, errlen, -ENOMEM, "out of memory");
		for (size_t s = 0; s < e.n_slices && rc == 0; s++)
			rc = check_piece(idx, &e, &e.slices[s], claimed, err, errlen);
	}
	free(claimed);
	return rc;
}

/*
 * The checks above the table, on a new index named name whose table is
 * read by read(ctx, idx->table): both front doors below share them.
 */
static int parse_index(const char *name,
		       int (*read)(const void *ctx, const char *name, struct table_contents *out,
				   char *err, size_t errlen),
		       const void *ctx, struct bundle_index **out, char *err, size_t errlen)
{
	struct bundle_index *idx = calloc(1, sizeof(*idx));
	int rc;

	if (!idx || !(idx->name = strdup(name))) {
		free(idx);
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	}
	rc = read(ctx, name, &idx->table, err, errlen);
	if (rc == 0)
		rc = check_header(idx, err, errlen);
	if (rc == 0)
		rc = keep_keys(idx, err, errlen);
	if (rc == 0)
		rc = decode_entries(idx, err, errlen);
	/* the values and the pair array: as much again as the keys */
	table_contents_release(&idx->table);
	if (rc == 0)
		rc = check_pieces(idx, err, errlen);
	if (rc) {
		bundle_index_free(idx);
		return rc;
	}
	*out = idx;
	return 0;
}

struct mem_table {
	const uint8_t *buf;
	size_t len;
};

static int read_mem(const void *ctx, const char *name, struct table_contents *out, char *err,
		    size_t errlen)
{
	const struct mem_table *m = ctx;

	return table_read_all(name, m->buf, m->len, out, err, errlen);
}

struct fd_table {
	int fd;
	uint64_t size;
};

static int read_fd(const void *ctx, const char *name, struct table_contents *out, char *err,
		   size_t errlen)
{
	const struct fd_table *f = ctx;

	return table_read_fd(name, f->fd, f->size, out, err, errlen);
}

int bundle_index_parse(const char *name, const uint8_t *buf, size_t len, struct bundle_index **out,
		       char *err, size_t errlen)
{
	const struct mem_table m = { buf, len };

	return parse_index(name, read_mem, &m, out, err, errlen);
}

int bundle_index_read_fd(const char *name, int fd, uint64_t size, struct bundle_index **out,
			 char *err, size_t errlen)
{
	const struct fd_table f = { fd, size };

	return parse_index(name, read_fd, &f, out, err, errlen);
}

void bundle_index_free(struct bundle_index *idx)
{
	if (!idx)
		return;
	table_contents_release(&idx->table);
	bundle_index_release_entries(idx);
	free(idx->name);
	free(idx);
}

void bundle_index_release_entries(struct bundle_index *idx)
{
	util_arena_release(&idx->arena);
	util_arena_release(&idx->scratch);
	free(idx->keys);
	free(idx->dims);
	free(idx->odd);
	free(idx->recs);
	idx->keys = NULL;
	idx->dims = NULL;
	idx->odd = NULL;
	idx->recs = NULL;
	idx->n = idx->n_dims = idx->n_odd = idx->keys_len = 0;
	idx->cap_dims = idx->cap_odd = 0;
}

int bundle_index_num_shards(const struct bundle_index *idx) { return idx->header.num_shards; }

size_t bundle_index_num_entries(const struct bundle_index *idx) { return idx->n; }

struct bundle_entry bundle_index_entry_at(const struct bundle_index *idx, size_t i)
{
	return expand(idx, i);
}

void bundle_index_entry_place(const struct bundle_index *idx, size_t i, int32_t *shard_id,
			      int64_t *offset, int64_t *size)
{
	const struct entry_rec *r = &idx->recs[i];

	*size = r->size;
	if (r->shard_id == REC_ODD) {
		*shard_id = idx->odd[r->offset].shard_id;
		*offset = idx->odd[r->offset].offset;
	} else {
		*shard_id = r->shard_id;
		*offset = r->offset;
	}
}

int bundle_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	/* memcmp must not see NULL, even for 0 bytes (an empty key may be NULL) */
	int c = n ? memcmp(a, b, n) : 0;

	return c ? c : (alen > blen) - (alen < blen);
}

int bundle_entry_is_piece(const struct bundle_entry *e)
{
	return e->key_len > 0 && e->key[0] == '\0';
}

const char *bundle_entry_name(const struct bundle_entry *e, char *buf, size_t len)
{
	struct bundle_slice s;
	size_t used, nlen;
	char *name;

	if (!bundle_entry_is_piece(e) ||
	    bundle_slice_key_decode(e->key, e->key_len, &name, &nlen, &s)) {
		snprintf(buf, len, "%s", e->key);
		return buf;
	}
	used = (size_t)snprintf(buf, len, "%s", name);
	if (used < len)
		slice_text(&s, buf + used, len - used);
	free(name);
	free(s.extents);
	return buf;
}
