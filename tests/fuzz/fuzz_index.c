/*
 * fuzz_index.c - libFuzzer target for the .index parser (bundle_index_parse:
 * footer, blocks incl. Snappy, restarts, entries, header, pieces).
 *
 * Each input is parsed twice: as given, and again with its magic number and
 * every reachable block CRC recomputed (the "repaired" copy), since a
 * mutation almost always breaks a CRC and the parser would never get past
 * it otherwise. On success the entries are walked and checked:
 *   - keys strictly increasing, none empty; every entry sane (dims >= 0,
 *     shard in range, size matching the dtype, slices of the right rank);
 *   - bundle_entry_name into heap buffers of exact sizes 1, 7 and 512;
 *   - every piece key that decodes re-encodes to the same bytes, and a
 *     piece whose key does not decode is reported;
 *   - the index rebuilt with bundle_index_builder parses to the same
 *     entries, and rebuilding that gives the same bytes again.
 * The input also goes through bundle_tensor_crc as a string and a variant
 * tensor encoding (memory safety only).
 * Any violation abort()s with a message, which libFuzzer reports as a crash.
 *
 * FUZZ_VERBOSE=1 in the environment prints each parse result to stderr
 * (handy for checking the seeds: fuzz_index -runs=0 corpus/index/).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "bundle/bundle.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verbose;

#define FUZZ_NAME "fuzz_index"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *v = getenv("FUZZ_VERBOSE");

	(void)argc;
	(void)argv;
	verbose = v && *v && strcmp(v, "0");
	return 0;
}

/* ------------------------------------------------------- CRC repair */

#define FOOTER 48
#define TRAILER 5

static const uint8_t *varint64(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (int shift = 0; shift < 64 && p < end; shift += 7) {
		uint8_t b = *p++;

		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return p;
		}
	}
	return NULL;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * Recompute the trailer CRC of the block [off, off+size) if it lies in the
 * file's block area. Returns its contents (decompressed into *owned for a
 * Snappy block, which the caller frees) or NULL.
 */
static const uint8_t *fix_block(uint8_t *buf, size_t len, uint64_t off, uint64_t size,
				size_t *out_len, char **owned)
{
	const uint64_t end = len - FOOTER;
	uint8_t *trailer;
	uint32_t crc;
	size_t ulen;

	*owned = NULL;
	if (off > end || size > end - off || TRAILER > end - off - size)
		return NULL;
	trailer = buf + off + size;
	crc = bundle_crc32c(0, buf + off, (size_t)size);
	crc = bundle_crc32c(crc, trailer, 1);
	put32(trailer + 1, bundle_crc_mask(crc));
	if (trailer[0] == 0) {
		*out_len = (size_t)size;
		return buf + off;
	}
	if (trailer[0] != 1 ||
	    snappy_validate_compressed_buffer((char *)buf + off, size) != SNAPPY_OK ||
	    snappy_uncompressed_length((char *)buf + off, size, &ulen) != SNAPPY_OK ||
	    !(*owned = malloc(ulen + 1)) ||
	    snappy_uncompress((char *)buf + off, size, *owned, &ulen) != SNAPPY_OK) {
		free(*owned);
		*owned = NULL;
		return NULL;
	}
	*out_len = ulen;
	return (const uint8_t *)*owned;
}

/* Walk the index block loosely and fix the CRC of every data block. */
static void fix_data_blocks(uint8_t *buf, size_t len, const uint8_t *blk, size_t n)
{
	const uint8_t *p, *lim;
	uint32_t num;

	if (n < 4)
		return;
	num = get32(blk + n - 4);
	if (num == 0 || num > (n - 4) / 4)
		return;
	p = blk;
	lim = blk + n - 4 - 4 * (size_t)num;
	while (p < lim) {
		uint64_t shared, unshared, vlen, off, size;
		const uint8_t *v, *q;
		size_t dlen;
		char *owned;

		if (!(p = varint64(p, lim, &shared)) || !(p = varint64(p, lim, &unshared)) ||
		    !(p = varint64(p, lim, &vlen)) || unshared > (uint64_t)(lim - p) ||
		    vlen > (uint64_t)(lim - p) - unshared)
			return;
		v = p + unshared;
		p = v + vlen;
		q = varint64(v, v + vlen, &off);
		if (q && varint64(q, v + vlen, &size)) {
			fix_block(buf, len, off, size, &dlen, &owned);
			free(owned);
		}
	}
}

/* Put the magic back and recompute every reachable block CRC. */
static void repair(uint8_t *buf, size_t len)
{
	static const uint8_t magic[8] = { 0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb };
	uint64_t moff, msize, ioff, isize;
	uint8_t *f;
	const uint8_t *p, *blk;
	size_t n;
	char *owned;

	if (len < FOOTER)
		return;
	f = buf + len - FOOTER;
	memcpy(f + 40, magic, 8);
	if (!(p = varint64(f, f + 40, &moff)) || !(p = varint64(p, f + 40, &msize)) ||
	    !(p = varint64(p, f + 40, &ioff)) || !varint64(p, f + 40, &isize))
		return;
	fix_block(buf, len, moff, msize, &n, &owned);
	free(owned);
	blk = fix_block(buf, len, ioff, isize, &n, &owned);
	if (blk)
		fix_data_blocks(buf, len, blk, n);
	free(owned);
}

/* --------------------------------------------------------- checking */

static int key_cmp(const struct bundle_entry *a, const struct bundle_entry *b)
{
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = n ? memcmp(a->key, b->key, n) : 0;

	return c ? c : (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static void check_name(const struct bundle_entry *e)
{
	static const size_t sizes[] = { 1, 7, 512 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *buf = malloc(sizes[i]); /* exact: ASan sees overruns */
		const char *r;

		CHECK(buf, "out of memory");
		r = bundle_entry_name(e, buf, sizes[i]);
		CHECK(r == buf, "bundle_entry_name returned another buffer");
		CHECK(memchr(buf, '\0', sizes[i]), "name not NUL-terminated");
		free(buf);
	}
}

static void hex(const char *what, const void *p, size_t n)
{
	fprintf(stderr, "  %s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", ((const uint8_t *)p)[i]);
	fputc('\n', stderr);
}

/* A piece key decodes to (name, slice) that encodes back to the key. */
static void check_piece_key(const struct bundle_entry *e)
{
	struct bundle_slice s, s2;
	char *name, *name2, *key;
	size_t name_len, name2_len, key_len;
	int rc;

	rc = bundle_slice_key_decode(e->key, e->key_len, &name, &name_len, &s);
	if (rc) {
		CHECK(rc == -EBADMSG || rc == -ENOMEM, "decode rc %d", rc);
		return;
	}
	CHECK(s.rank >= 0 && s.rank <= BUNDLE_MAX_RANK, "rank %d", s.rank);
	CHECK(name[name_len] == '\0', "decoded name not NUL-terminated");
	rc = bundle_slice_key_encode(name, name_len, &s, &key, &key_len);
	CHECK(rc == 0, "re-encode failed: %d", rc);
	if (key_len != e->key_len || memcmp(key, e->key, key_len)) {
		hex("key", e->key, e->key_len);
		hex("re-encoded", key, key_len);
		CHECK(0, "piece key does not re-encode to itself");
	}
	/* and the canonical key decodes to the same thing */
	rc = bundle_slice_key_decode(key, key_len, &name2, &name2_len, &s2);
	CHECK(rc == 0, "canonical key does not decode: %d", rc);
	CHECK(name2_len == name_len && !memcmp(name, name2, name_len) && s2.rank == s.rank &&
		      (!s.rank ||
		       !memcmp(s.extents, s2.extents, (size_t)s.rank * sizeof(*s.extents))),
	      "decode(encode(decode(key))) differs");
	free(name2);
	free(s2.extents);
	free(key);
	free(name);
	free(s.extents);
}

static void check_entry(const struct bundle_entry *e, int num_shards)
{
	int64_t n = bundle_num_elements(e->rank, e->dims);
	int esize = bundle_dtype_size(e->dtype);

	CHECK(e->key_len > 0, "entry with the header's empty key");
	CHECK(e->key[e->key_len] == '\0', "key not NUL-terminated");
	CHECK(bundle_dtype_name(e->dtype) && esize >= 0, "dtype %d", e->dtype);
	CHECK(e->rank >= 0 && e->rank <= BUNDLE_MAX_RANK, "rank %d", e->rank);
	CHECK(n >= 0, "bad shape accepted");
	CHECK(e->shard_id >= 0 && e->shard_id < num_shards, "shard %d of %d", e->shard_id,
	      num_shards);
	CHECK(e->offset >= 0 && e->size >= 0, "negative offset/size");
	if (esize > 0 && e->dtype < 29 && !e->n_slices)
		CHECK(n <= INT64_MAX / esize && n * esize == e->size,
		      "size %lld for %lld elements of %d bytes", (long long)e->size, (long long)n,
		      esize);
	for (size_t i = 0; i < e->n_slices; i++) {
		const struct bundle_slice *s = &e->slices[i];

		CHECK(s->rank == e->rank, "slice rank %d, tensor rank %d", s->rank, e->rank);
		for (int d = 0; d < s->rank; d++) {
			const struct bundle_extent *x = &s->extents[d];

			CHECK(x->start >= 0 && x->length >= -1 && (x->length >= 0 || x->start == 0),
			      "bad extent %lld:%lld", (long long)x->start, (long long)x->length);
			/* a piece exists for it, so it lies inside the dim */
			CHECK(x->length < 0 || (x->start <= e->dims[d] &&
						x->length <= e->dims[d] - x->start),
			      "extent %lld:%lld outside dim %lld", (long long)x->start,
			      (long long)x->length, (long long)e->dims[d]);
		}
	}
	check_name(e);
	if (bundle_entry_is_piece(e))
		check_piece_key(e);
}

static void same_entry(const struct bundle_entry *a, const struct bundle_entry *b)
{
	CHECK(a->key_len == b->key_len && !memcmp(a->key, b->key, a->key_len),
	      "key differs after rebuild");
	CHECK(a->dtype == b->dtype && a->rank == b->rank, "dtype/rank differ");
	CHECK(!a->rank || !memcmp(a->dims, b->dims, (size_t)a->rank * 8), "dims differ");
	CHECK(a->n_slices == b->n_slices, "slice count differs");
	if (!a->n_slices)
		CHECK(a->shard_id == b->shard_id && a->offset == b->offset && a->size == b->size &&
			      a->crc32c == b->crc32c,
		      "location/crc differ");
	for (size_t i = 0; i < a->n_slices; i++)
		CHECK(a->slices[i].rank == b->slices[i].rank &&
			      (!a->rank || !memcmp(a->slices[i].extents, b->slices[i].extents,
						   (size_t)a->rank * sizeof(struct bundle_extent))),
		      "slice %zu differs", i);
}

static uint8_t *rebuild(const struct bundle_index *idx, size_t *len)
{
	struct bundle_index_builder *b;
	char err[BUNDLE_ERR_MAX];
	uint8_t *out = NULL;
	int rc;

	rc = bundle_index_builder_new(bundle_index_num_shards(idx), &b);
	CHECK(rc == 0, "builder_new: %d", rc);
	for (size_t i = 0; i < bundle_index_num_entries(idx); i++) {
		const struct bundle_entry e_ent = bundle_index_entry_at(idx, i), *e = &e_ent;

		rc = bundle_index_builder_add(b, e->key, e->key_len, e);
		CHECK(rc == 0, "builder_add %zu: %d", i, rc);
	}
	rc = bundle_index_builder_finish(b, &out, len, err, sizeof(err));
	CHECK(rc == 0, "builder_finish: %d %s", rc, err);
	bundle_index_builder_free(b);
	return out;
}

static void check_index(const struct bundle_index *idx)
{
	const size_t n = bundle_index_num_entries(idx);
	const int shards = bundle_index_num_shards(idx);
	struct bundle_entry prev;
	struct bundle_index *idx2, *idx3;
	char err[BUNDLE_ERR_MAX];
	uint8_t *b1, *b2;
	size_t l1, l2;
	int rc;

	CHECK(shards >= 1, "num_shards %d", shards);
	for (size_t i = 0; i < n; i++) {
		const struct bundle_entry e_ent = bundle_index_entry_at(idx, i), *e = &e_ent;

		if (i)
			CHECK(key_cmp((prev = bundle_index_entry_at(idx, i - 1), &prev), e) < 0,
			      "keys not strictly increasing at %zu", i);
		check_entry(e, shards);
	}

	/* rebuild: same entries, and a fixed point after one round */
	b1 = rebuild(idx, &l1);
	rc = bundle_index_parse("rebuilt", b1, l1, &idx2, err, sizeof(err));
	CHECK(rc == 0, "rebuilt index does not parse: %s", err);
	CHECK(bundle_index_num_entries(idx2) == n && bundle_index_num_shards(idx2) == shards,
	      "rebuilt index differs");
	for (size_t i = 0; i < n; i++) {
		const struct bundle_entry a = bundle_index_entry_at(idx, i);
		const struct bundle_entry b = bundle_index_entry_at(idx2, i);

		same_entry(&a, &b);
	}
	b2 = rebuild(idx2, &l2);
	CHECK(l1 == l2 && !memcmp(b1, b2, l1), "rebuild is not a fixed point");
	rc = bundle_index_parse("rebuilt2", b2, l2, &idx3, err, sizeof(err));
	CHECK(rc == 0, "second rebuild does not parse: %s", err);
	bundle_index_free(idx3);
	bundle_index_free(idx2);
	free(b1);
	free(b2);
}

static int parse_and_check(const char *what, const uint8_t *data, size_t size)
{
	struct bundle_index *idx = NULL;
	char err[BUNDLE_ERR_MAX];
	int rc;

	err[0] = '\0';
	rc = bundle_index_parse("fuzz.index", data, size, &idx, err, sizeof(err));
	if (verbose)
		fprintf(stderr, "%s: rc %d %s%s\n", what, rc, rc ? err : "ok, entries ",
			rc ? "" : "");
	if (rc) {
		CHECK(rc == -EBADMSG || rc == -ENOTSUP || rc == -ENOMEM, "unexpected rc %d", rc);
		CHECK(memchr(err, '\0', sizeof(err)) && err[0], "no error message for rc %d", rc);
		CHECK(!strncmp(err, "'fuzz.index'", 12) || !strcmp(err, "out of memory"),
		      "message does not name the file: %s", err);
		return rc;
	}
	if (verbose)
		fprintf(stderr, "  %zu entries, %d shards\n", bundle_index_num_entries(idx),
			bundle_index_num_shards(idx));
	check_index(idx);
	bundle_index_free(idx);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	int rc;

	/* an exact-size heap copy, so ASan catches a read past the end */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	rc = parse_and_check("as given", copy, size);
	repair(copy, size);
	if (rc && memcmp(copy, data, size))
		parse_and_check("repaired", copy, size);
	free(copy);

	/*
	 * The same bytes as a DT_STRING / DT_VARIANT tensor encoding: the
	 * checksum walkers bundle_read_tensor uses on (equally untrusted)
	 * data shards. Memory safety only; n from the first byte.
	 */
	if (size > 0) {
		copy = malloc(size - 1 ? size - 1 : 1);
		if (copy) {
			uint32_t crc;

			memcpy(copy, data + 1, size - 1);
			bundle_tensor_crc(BUNDLE_DT_STRING, data[0] & 0x3f, copy, size - 1, &crc);
			bundle_tensor_crc(BUNDLE_DT_VARIANT, data[0] & 0x3f, copy, size - 1, &crc);
			free(copy);
		}
	}
	return 0;
}
