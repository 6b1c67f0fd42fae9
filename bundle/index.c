/*
 * index.c - parse a .index into its entries (bundle_index) with the strict
 * checks of bundle.h: a known header, decodable entries in key order,
 * shard ids in range and partitioned variables whose pieces all exist.
 * What ckptfs later serves is known-good before any mount.
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/arena.h"
#include "bundle/entry.h"
#include "bundle/internal.h"
#include "bundle/table.h"

struct bundle_index {
	char *name;                  /* owned; for messages */
	struct table_contents table; /* owned while parsing; released after */
	char *keys;                  /* owned: the entries' keys, NUL after each */
	struct arena arena;          /* owned; dims and slices */
	struct bundle_header header;
	struct bundle_entry *entries; /* owned, n items, key order */
	size_t n;
};

static int check_header(struct bundle_index *idx, char *err, size_t errlen)
{
	const struct table_kv *kv = idx->table.n ? &idx->table.kvs[0] : NULL;
	struct bundle_header *h = &idx->header;

	if (!kv || kv->key_len != 0)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': no header entry (empty key)", idx->name);
	if (header_decode(kv->val, kv->val_len, h))
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': header is not a parseable BundleHeaderProto",
				   idx->name);
	if (h->endianness != 0)
		return bundle_errf(err, errlen, -ENOTSUP,
				   "'%s': big-endian bundle (only little-endian is supported)",
				   idx->name);
	if (h->producer < 0 || h->min_consumer > BUNDLE_CONSUMER ||
	    h->bad_consumer_is_us)
		return bundle_errf(err, errlen, -ENOTSUP,
				   "'%s': unsupported format version (producer %d, min_consumer %d)",
				   idx->name, h->producer, h->min_consumer);
	if (h->num_shards < 1)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': header has num_shards %d", idx->name,
				   h->num_shards);
	return 0;
}

static int decode_entries(struct bundle_index *idx, char *err, size_t errlen)
{
	char msg[BUNDLE_ERR_MAX], name[512];

	idx->n = idx->table.n - 1;
	idx->entries = calloc(idx->n + 1, sizeof(*idx->entries));
	if (!idx->entries)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < idx->n; i++) {
		const struct table_kv *kv = &idx->table.kvs[i + 1];
		struct bundle_entry *e = &idx->entries[i];
		int rc;

		e->key = (const char *)kv->key;
		e->key_len = kv->key_len;
		rc = entry_decode(kv->val, kv->val_len, &idx->arena, e, msg,
				  sizeof(msg));
		if (rc)
			return bundle_errf(err, errlen, rc, "'%s': tensor '%s': %s",
					   idx->name, bundle_entry_name(e, name, sizeof(name)),
					   msg);
		if (e->shard_id >= idx->header.num_shards)
			return bundle_errf(err, errlen, -EBADMSG,
					   "'%s': tensor '%s': shard_id %d out of range (num_shards %d)",
					   idx->name, bundle_entry_name(e, name, sizeof(name)),
					   e->shard_id, idx->header.num_shards);
	}
	return 0;
}

const struct bundle_entry *bundle_index_find(const struct bundle_index *idx,
					     const char *key, size_t len)
{
	size_t lo = 0, hi = idx->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bundle_entry *e = &idx->entries[mid];
		int c = bundle_key_cmp(e->key, e->key_len, key, len);

		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* "[start:length,-]" (a '-' is a whole dimension), as bundle_entry_name() */
static const char *slice_text(const struct bundle_slice *s, char *buf,
			      size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "[");

	for (int d = 0; d < s->rank && used < len; d++) {
		if (s->extents[d].length < 0)
			used += (size_t)snprintf(buf + used, len - used, "%s-",
						 d ? "," : "");
		else
			used += (size_t)snprintf(buf + used, len - used,
						 "%s%lld:%lld", d ? "," : "",
						 (long long)s->extents[d].start,
						 (long long)s->extents[d].length);
	}
	if (used < len)
		snprintf(buf + used, len - used, "]");
	return buf;
}

/* A piece must exist, be unclaimed, and match its full tensor. */
static int check_piece(const struct bundle_index *idx,
		       const struct bundle_entry *full,
		       const struct bundle_slice *s, unsigned char *claimed,
		       char *err, size_t errlen)
{
	const struct bundle_entry *p;
	char *key, text[256];
	size_t len;
	int rc;

	rc = bundle_slice_key_encode(full->key, full->key_len, s, &key, &len);
	if (rc)
		return bundle_errf(err, errlen, rc, "out of memory");
	p = bundle_index_find(idx, key, len);
	free(key);
	if (!p)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': partitioned tensor '%s': piece %s is missing",
				   idx->name, full->key, slice_text(s, text, sizeof(text)));
	if (claimed[p - idx->entries]++)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': partitioned tensor '%s': piece %s is listed twice",
				   idx->name, full->key, slice_text(s, text, sizeof(text)));
	if (p->n_slices || p->dtype != full->dtype || p->rank != full->rank)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': partitioned tensor '%s': piece %s does not match it (%s of rank %d; the tensor is %s of rank %d)",
				   idx->name, full->key, slice_text(s, text, sizeof(text)),
				   p->n_slices ? "partitioned" : bundle_dtype_name(p->dtype),
				   p->rank, bundle_dtype_name(full->dtype), full->rank);
	for (int d = 0; d < s->rank; d++) {
		int64_t want = s->extents[d].length < 0 ? full->dims[d]
							: s->extents[d].length;

		/* start > dims - want, not start + want > dims: no overflow */
		if (p->dims[d] != want || want > full->dims[d] ||
		    s->extents[d].start > full->dims[d] - want)
			return bundle_errf(err, errlen, -EBADMSG,
					   "'%s': partitioned tensor '%s': piece shape does not match its slice",
					   idx->name, full->key);
	}
	return 0;
}

static int check_pieces(const struct bundle_index *idx, char *err,
			size_t errlen)
{
	unsigned char *claimed = NULL;
	int rc = 0;

	for (size_t i = 0; i < idx->n && rc == 0; i++) {
		const struct bundle_entry *e = &idx->entries[i];

		if (!e->n_slices)
			continue;
		if (!claimed && !(claimed = calloc(idx->n, 1)))
			return bundle_errf(err, errlen, -ENOMEM, "out of memory");
		for (size_t s = 0; s < e->n_slices && rc == 0; s++)
			rc = check_piece(idx, e, &e->slices[s], claimed, err,
					 errlen);
	}
	free(claimed);
	return rc;
}

/*
 * Once every entry is decoded, the table's values and pair array are dead
 * weight (as much again as the keys, for a typical index): keep the keys
 * alone, packed, and let the table go.
 */
static int keep_keys(struct bundle_index *idx, char *err, size_t errlen)
{
	size_t total = 1;
	char *w;

	for (size_t i = 0; i < idx->n; i++)
		total += idx->entries[i].key_len + 1;
	idx->keys = w = malloc(total);
	if (!w)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < idx->n; i++) {
		struct bundle_entry *e = &idx->entries[i];

		memcpy(w, e->key, e->key_len);
		w[e->key_len] = '\0';
		e->key = w;
		w += e->key_len + 1;
	}
	table_contents_release(&idx->table);
	return 0;
}

/*
 * The checks above the table, on a new index named name whose table is
 * read by read(ctx, idx->table): both front doors below share them.
 */
static int parse_index(const char *name,
		       int (*read)(const void *ctx, const char *name,
				   struct table_contents *out, char *err,
				   size_t errlen),
		       const void *ctx, struct bundle_index **out, char *err,
		       size_t errlen)
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
		rc = decode_entries(idx, err, errlen);
	if (rc == 0)
		rc = check_pieces(idx, err, errlen);
	if (rc == 0)
		rc = keep_keys(idx, err, errlen);
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

static int read_mem(const void *ctx, const char *name,
		    struct table_contents *out, char *err, size_t errlen)
{
	const struct mem_table *m = ctx;

	return table_read_all(name, m->buf, m->len, out, err, errlen);
}

struct fd_table {
	int fd;
	uint64_t size;
};

static int read_fd(const void *ctx, const char *name,
		   struct table_contents *out, char *err, size_t errlen)
{
	const struct fd_table *f = ctx;

	return table_read_fd(name, f->fd, f->size, out, err, errlen);
}

int bundle_index_parse(const char *name, const uint8_t *buf, size_t len,
		       struct bundle_index **out, char *err, size_t errlen)
{
	const struct mem_table m = { buf, len };

	return parse_index(name, read_mem, &m, out, err, errlen);
}

int bundle_index_read_fd(const char *name, int fd, uint64_t size,
			 struct bundle_index **out, char *err, size_t errlen)
{
	const struct fd_table f = { fd, size };

	return parse_index(name, read_fd, &f, out, err, errlen);
}

void bundle_index_free(struct bundle_index *idx)
{
	if (!idx)
		return;
	table_contents_release(&idx->table);
	arena_release(&idx->arena);
	free(idx->keys);
	free(idx->entries);
	free(idx->name);
	free(idx);
}

int bundle_index_num_shards(const struct bundle_index *idx)
{
	return idx->header.num_shards;
}

size_t bundle_index_num_entries(const struct bundle_index *idx)
{
	return idx->n;
}

const struct bundle_entry *bundle_index_entry_at(const struct bundle_index *idx,
						 size_t i)
{
	return i < idx->n ? &idx->entries[i] : NULL;
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

const char *bundle_entry_name(const struct bundle_entry *e, char *buf,
			      size_t len)
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
