/*
 * test_bundle_table.c - the .index SSTable (bundle/table.h): byte-exact
 * builds of the vectors of docs/checkpoint-format.md §9.1 and of real
 * TF-written indexes, multi-block and empty round trips, TF's separator
 * rules, and a golden catalogue of corrupt files, each pinned to its error
 * code and message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/block.h"
#include "bundle/bundle.h"
#include "bundle/coding.h"
#include "bundle/table.h"

#define NAME "t.index"

/* §9.1 minimal bundle: "" -> header, "a" -> float32 scalar 1.0. */
static const uint8_t header_val[] = { 0x08, 0x01, 0x1A, 0x02, 0x08, 0x01 };
static const uint8_t entry_a_val[] = { 0x08, 0x01, 0x12, 0x00, 0x28, 0x04,
				       0x35, 0x81, 0xA5, 0xDA, 0x2B };
static const uint8_t minimal[117] = {
	/* 000 data block: "" -> header, "a" -> entry */
	0x00,
	0x00,
	0x06,
	0x08,
	0x01,
	0x1A,
	0x02,
	0x08,
	0x01,
	0x00,
	0x01,
	0x0B,
	0x61,
	0x08,
	0x01,
	0x12,
	0x00,
	0x28,
	0x04,
	0x35,
	0x81,
	0xA5,
	0xDA,
	0x2B,
	0x00,
	0x00,
	0x00,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	0x74,
	0xEF,
	0x79,
	0xB2,
	/* 025 metaindex */
	0x00,
	0x00,
	0x00,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	0xC0,
	0xF2,
	0xA1,
	0xB0,
	/* 032 index: "b" -> (0, 32) */
	0x00,
	0x01,
	0x02,
	0x62,
	0x00,
	0x20,
	0x00,
	0x00,
	0x00,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	0x30,
	0xD3,
	0x69,
	0x1C,
	/* 045 footer */
	0x25,
	0x08,
	0x32,
	0x0E,
	[0x45 + 40] = 0x57,
	0xFB,
	0x80,
	0x8B,
	0x24,
	0x75,
	0x47,
	0xDB,
};

/* tensorflow/rust regression-model variables.index (§9.1), 142 bytes. */
static const char rust_golden_hex[] =
	"0000060801 1a02080100 010f62080112 0412020801 280435a67b 113a000111"
	" 77080112041202080120042804357505531b"
	" 00000000 01000000 00c007b33c 0000000001000000 00c0f2a1b0 0001027800"
	" 39 00000000 01000000 0053ee0f5d 3e084b0e"
	" 000000000000000000000000000000000000" /* 36 zero bytes */
	" 000000000000000000000000000000000000"
	" 57fb808b247547db";

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned int byte;

	while (*s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_int_equal(sscanf(s, "%2x", &byte), 1);
		assert_true(n < cap);
		out[n++] = (uint8_t)byte;
		s += 2;
	}
	return n;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		fail_msg("cannot open '%s'", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc(n ? (size_t)n : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Build a table from a parsed one: the re-encoding TF would produce. */
static uint8_t *reencode(const struct table_contents *c, size_t *len)
{
	struct table_builder *b = table_builder_new();
	uint8_t *out = NULL;

	assert_non_null(b);
	for (size_t i = 0; i < c->n; i++)
		assert_int_equal(table_builder_add(b, c->kvs[i].key, c->kvs[i].key_len,
						   c->kvs[i].val, c->kvs[i].val_len),
				 0);
	assert_int_equal(table_builder_finish(b, &out, len), 0);
	table_builder_free(b);
	return out;
}

/* Parse buf and check that re-encoding it gives the same bytes. */
static void expect_reencodes(const char *name, const uint8_t *buf, size_t len)
{
	struct table_contents c;
	char err[BUNDLE_ERR_MAX];
	uint8_t *again;
	size_t again_len = 0;
	int rc;

	rc = table_read_all(name, buf, len, &c, err, sizeof(err));
	if (rc)
		fail_msg("%s: %s", name, err);
	again = reencode(&c, &again_len);
	assert_int_equal(again_len, len);
	assert_memory_equal(again, buf, len);
	free(again);
	table_contents_release(&c);
}

static void expect_fail(const uint8_t *buf, size_t len, int code, const char *frag)
{
	struct table_contents c = { 0 };
	char err[BUNDLE_ERR_MAX] = "";
	const int rc = table_read_all(NAME, buf, len, &c, err, sizeof(err));

	if (rc != code)
		fail_msg("rc %d, want %d (message '%s')", rc, code, err);
	if (!strstr(err, frag) || !strstr(err, "'" NAME "'"))
		fail_msg("message '%s' lacks '%s' or the file name", err, frag);
	assert_null(c.kvs); /* out-params untouched on failure */
	/* A NULL message buffer is allowed. */
	assert_int_equal(table_read_all(NAME, buf, len, &c, NULL, 0), code);
}

/* Recompute the trailer crc of the block [off, off + size). */
static void fix_crc(uint8_t *buf, size_t off, size_t size)
{
	uint32_t crc = bundle_crc32c(0, buf + off, size + 1);

	coding_put_fixed32(buf + off + size + 1, bundle_crc_mask(crc));
}

/* --------------------------------------------------- golden encodings */

static void test_table_minimal_bundle(void **state)
{
	struct table_builder *b = table_builder_new();
	struct table_contents c;
	uint8_t *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(
		table_builder_add(b, (const uint8_t *)"", 0, header_val, sizeof(header_val)), 0);
	assert_int_equal(
		table_builder_add(b, (const uint8_t *)"a", 1, entry_a_val, sizeof(entry_a_val)), 0);
	assert_int_equal(table_builder_finish(b, &out, &len), 0);
	table_builder_free(b);
	assert_int_equal(len, sizeof(minimal));
	assert_memory_equal(out, minimal, sizeof(minimal));

	assert_int_equal(table_read_all(NAME, out, len, &c, NULL, 0), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.kvs[0].key_len, 0);
	assert_int_equal(c.kvs[0].key[0], '\0');
	assert_int_equal(c.kvs[0].val_len, sizeof(header_val));
	assert_memory_equal(c.kvs[0].val, header_val, sizeof(header_val));
	assert_string_equal((const char *)c.kvs[1].key, "a");
	assert_int_equal(c.kvs[1].val_len, sizeof(entry_a_val));
	assert_memory_equal(c.kvs[1].val, entry_a_val, sizeof(entry_a_val));
	table_contents_release(&c);
	free(out);
}

static void test_table_rust_golden(void **state)
{
	uint8_t buf[256];
	struct table_contents c;
	const size_t len = unhex(rust_golden_hex, buf, sizeof(buf));

	(void)state;
	assert_int_equal(len, 142);
	assert_int_equal(table_read_all(NAME, buf, len, &c, NULL, 0), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.kvs[0].key_len, 0);
	assert_string_equal((const char *)c.kvs[1].key, "b");
	assert_string_equal((const char *)c.kvs[2].key, "w");
	table_contents_release(&c);
	expect_reencodes("rust golden", buf, len);
}

/* The type byte of every data block, OR-ed together bit by bit. */
static unsigned int data_block_types(const uint8_t *buf, size_t len)
{
	const uint8_t *f = buf + len - TABLE_FOOTER_SIZE;
	uint64_t off, size;
	struct block_iter it;
	unsigned int types = 0;
	const uint8_t *p;

	p = coding_get_varint64(f, f + 40, &off);
	p = coding_get_varint64(p, f + 40, &size); /* metaindex */
	p = coding_get_varint64(p, f + 40, &off);
	p = coding_get_varint64(p, f + 40, &size);
	assert_non_null(p);
	assert_int_equal(buf[off + size], 0); /* the index block is raw */
	assert_int_equal(block_iter_init(&it, buf + off, (size_t)size), 0);
	while (block_iter_next(&it) == 1) {
		p = coding_get_varint64(it.val, it.val + it.val_len, &off);
		p = coding_get_varint64(p, it.val + it.val_len, &size);
		assert_non_null(p);
		types |= 1u << buf[off + size];
	}
	block_iter_release(&it);
	return types;
}

static uint8_t *corpus_index(const char *dir, size_t *len)
{
	char path[1024];
	struct dirent *de;
	uint8_t *buf = NULL;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", CKPTFS_CORPUS_DIR, dir);
	d = opendir(path);
	if (!d)
		fail_msg("cannot list '%s'", path);
	while ((de = readdir(d))) {
		const size_t n = strlen(de->d_name);

		if (n > 6 && !strcmp(de->d_name + n - 6, ".index")) {
			snprintf(path, sizeof(path), "%s/%s/%s", CKPTFS_CORPUS_DIR, dir,
				 de->d_name);
			buf = slurp(path, len);
			break;
		}
	}
	closedir(d);
	if (!buf)
		fail_msg("no .index in '%s'", dir);
	return buf;
}

static void check_corpus(const char *dir, int snappy)
{
	struct table_contents c;
	char err[BUNDLE_ERR_MAX];
	size_t len = 0;
	uint8_t *buf = corpus_index(dir, &len);

	if (table_read_all(dir, buf, len, &c, err, sizeof(err)))
		fail_msg("%s", err);
	/* Every bundle starts with the header entry (key ""). */
	assert_true(c.n > 1);
	assert_int_equal(c.kvs[0].key_len, 0);
	assert_true(c.kvs[0].val_len >= 2);
	assert_int_equal(c.kvs[0].val[0], 0x08);
	for (size_t i = 0; i < c.n; i++)
		assert_int_equal(c.kvs[i].key[c.kvs[i].key_len], '\0');
	table_contents_release(&c);
	if (snappy)
		assert_true(data_block_types(buf, len) & (1u << 1));
	else
		expect_reencodes(dir, buf, len);
	free(buf);
}

static void test_table_corpus(void **state)
{
	(void)state;
	check_corpus("serving_half_plus_two_tf1", 1);
	check_corpus("serving_half_plus_two_tf2", 1);
	check_corpus("tfx_estimator_tf1", 0);
	check_corpus("tfx_keras_tf2", 0);
}

/* ------------------------------------------------------- round trips */

#define BIG_VAL (2 * TABLE_BLOCK_SIZE + 100)
#define N_SMALL 3000

static void fill_val(uint8_t *v, size_t n, size_t seed)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)(seed * 31 + i * 7);
}

/* Add "" plus N_SMALL 300-byte entries and one > 512 KiB one mid-way. */
static void add_many(struct table_builder *b, uint8_t *big)
{
	uint8_t val[300];
	char key[32];

	assert_int_equal(
		table_builder_add(b, (const uint8_t *)"", 0, header_val, sizeof(header_val)), 0);
	for (size_t i = 0; i < N_SMALL; i++) {
		snprintf(key, sizeof(key), "v/%06zu", i);
		fill_val(val, sizeof(val), i);
		assert_int_equal(
			table_builder_add(b, (const uint8_t *)key, strlen(key), val, sizeof(val)),
			0);
		if (i == N_SMALL / 2) {
			strcat(key, "~big");
			fill_val(big, BIG_VAL, 99);
			assert_int_equal(table_builder_add(b, (const uint8_t *)key, strlen(key),
							   big, BIG_VAL),
					 0);
		}
	}
}

/* Entries per data block, by walking the index as a reader would. */
static size_t block_sizes(const uint8_t *buf, size_t len, size_t *counts, size_t max)
{
	const uint8_t *f = buf + len - TABLE_FOOTER_SIZE;
	struct block_iter it, data;
	uint64_t off, size;
	const uint8_t *p;
	size_t n = 0;

	p = coding_get_varint64(f, f + 40, &off);
	p = coding_get_varint64(p, f + 40, &size);
	p = coding_get_varint64(p, f + 40, &off);
	p = coding_get_varint64(p, f + 40, &size);
	assert_int_equal(block_iter_init(&it, buf + off, (size_t)size), 0);
	while (block_iter_next(&it) == 1) {
		p = coding_get_varint64(it.val, it.val + it.val_len, &off);
		p = coding_get_varint64(p, it.val + it.val_len, &size);
		assert_non_null(p);
		assert_true(n < max);
		counts[n] = 0;
		assert_int_equal(block_iter_init(&data, buf + off, (size_t)size), 0);
		while (block_iter_next(&data) == 1)
			counts[n]++;
		block_iter_release(&data);
		n++;
	}
	block_iter_release(&it);
	return n;
}

static void test_table_many_blocks(void **state)
{
	struct table_builder *b = table_builder_new();
	uint8_t *big = malloc(BIG_VAL), *out = NULL;
	uint8_t val[300];
	struct table_contents c;
	size_t len = 0, counts[64], nblocks, k = 1, alone = 0;

	(void)state;
	assert_non_null(big);
	add_many(b, big);
	assert_int_equal(table_builder_finish(b, &out, &len), 0);
	table_builder_free(b);

	assert_int_equal(table_read_all(NAME, out, len, &c, NULL, 0), 0);
	assert_int_equal(c.n, 1 + N_SMALL + 1);
	for (size_t i = 0; i < N_SMALL; i++, k++) {
		fill_val(val, sizeof(val), i);
		assert_int_equal(c.kvs[k].val_len, sizeof(val));
		assert_memory_equal(c.kvs[k].val, val, sizeof(val));
		if (i == N_SMALL / 2) {
			k++;
			assert_string_equal((const char *)c.kvs[k].key, "v/001500~big");
			assert_int_equal(c.kvs[k].val_len, BIG_VAL);
			assert_memory_equal(c.kvs[k].val, big, BIG_VAL);
		}
	}
	table_contents_release(&c);
	expect_reencodes("many", out, len);

	/* ~900 KB of small entries in 256 KiB blocks, plus the big one. */
	nblocks = block_sizes(out, len, counts, 64);
	assert_true(nblocks >= 5);
	/* The pre-flush rule gives the big entry a block of its own. */
	for (size_t i = 0; i < nblocks; i++)
		alone += counts[i] == 1;
	assert_int_equal(alone, 1);
	free(out);
	free(big);
}

static void test_table_empty(void **state)
{
	struct table_builder *b = table_builder_new();
	struct table_contents c;
	uint8_t *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(table_builder_finish(b, &out, &len), 0);
	/* Finishing twice is a usage error, not a second table. */
	assert_int_equal(table_builder_finish(b, &out, &len), -EINVAL);
	table_builder_free(b);
	/* Empty metaindex + empty index + footer. */
	assert_int_equal(len, 13 + 13 + TABLE_FOOTER_SIZE);
	assert_memory_equal(out, minimal + 0x25, 13);
	assert_memory_equal(out + 13, minimal + 0x25, 8);
	assert_int_equal(table_read_all(NAME, out, len, &c, NULL, 0), 0);
	assert_int_equal(c.n, 0);
	table_contents_release(&c);
	expect_reencodes("empty", out, len);
	free(out);
}

/* Data blocks of a table "a" -> alen bytes, "b" -> blen bytes. */
static size_t blocks_after(size_t alen, size_t blen)
{
	struct table_builder *b = table_builder_new();
	const size_t vlen = alen > blen ? alen : blen;
	uint8_t *v = calloc(1, vlen), *out = NULL;
	size_t len = 0, counts[4], n;

	assert_non_null(v);
	assert_int_equal(table_builder_add(b, (const uint8_t *)"a", 1, v, alen), 0);
	assert_int_equal(table_builder_add(b, (const uint8_t *)"b", 1, v, blen), 0);
	assert_int_equal(table_builder_finish(b, &out, &len), 0);
	table_builder_free(b);
	n = block_sizes(out, len, counts, 4);
	expect_reencodes("boundary", out, len);
	free(out);
	free(v);
	return n;
}

static void test_table_block_boundary(void **state)
{
	/*
	 * Entry "a": 3 header bytes (1 + 1 + 3-byte varint length), 1 key
	 * byte, the value; the estimate adds 4 per restart and 4 for the
	 * count. 262130 bytes of value reach block_size exactly: flush.
	 */
	(void)state;
	assert_int_equal(blocks_after(TABLE_BLOCK_SIZE - 14, 1), 2);
	assert_int_equal(blocks_after(TABLE_BLOCK_SIZE - 15, 1), 1);
	/* Pre-flush: key + value of exactly 2 x block_size starts afresh. */
	assert_int_equal(blocks_after(1, 2 * TABLE_BLOCK_SIZE - 1), 2);
	assert_int_equal(blocks_after(1, 2 * TABLE_BLOCK_SIZE - 2), 1);
}

/* Index keys of a 2-entry table whose second value forces a new block. */
static void check_separators(const char *k1, size_t l1, const char *k2, size_t l2, const char *sep,
			     size_t sep_len, const char *succ, size_t succ_len)
{
	struct table_builder *b = table_builder_new();
	uint8_t *big = calloc(1, BIG_VAL), *out = NULL;
	const uint8_t *f;
	uint64_t off, size;
	struct block_iter it;
	const uint8_t *p;
	size_t len = 0;

	assert_non_null(big);
	assert_int_equal(table_builder_add(b, (const uint8_t *)k1, l1, (const uint8_t *)"v", 1), 0);
	assert_int_equal(table_builder_add(b, (const uint8_t *)k2, l2, big, BIG_VAL), 0);
	assert_int_equal(table_builder_finish(b, &out, &len), 0);
	table_builder_free(b);
	f = out + len - TABLE_FOOTER_SIZE;
	p = coding_get_varint64(f, f + 40, &off);
	p = coding_get_varint64(p, f + 40, &size);
	p = coding_get_varint64(p, f + 40, &off);
	assert_non_null(coding_get_varint64(p, f + 40, &size));
	assert_int_equal(block_iter_init(&it, out + off, (size_t)size), 0);
	assert_int_equal(block_iter_next(&it), 1);
	assert_int_equal(it.key.len, sep_len);
	assert_memory_equal(it.key.data, sep, sep_len);
	assert_int_equal(block_iter_next(&it), 1);
	assert_int_equal(it.key.len, succ_len);
	assert_memory_equal(it.key.data, succ, succ_len);
	assert_int_equal(block_iter_next(&it), 0);
	block_iter_release(&it);
	expect_reencodes("sep", out, len);
	free(out);
	free(big);
}

#define S(lit) lit, sizeof(lit) - 1

static void test_table_separators(void **state)
{
	(void)state;
	/* LevelDB's own example: a short key between two long ones. */
	check_separators(S("the quick brown fox"), S("the who"), S("the r"), S("u"));
	/* A prefix of the next key: keep it whole. */
	check_separators(S("abc"), S("abcd"), S("abc"), S("b"));
	/* Bumping the byte would reach the limit: keep it whole. */
	check_separators(S("ab"), S("ac"), S("ab"), S("b"));
	check_separators(S("\xff\x01zz"), S("\xff\x05"), S("\xff\x02"), S("\xff\x06"));
	/* All 0xFF has no shorter successor. */
	check_separators(S("\x01"), S("\xff\xff"), S("\x02"), S("\xff\xff"));
	/* The header key "" before a big first entry. */
	check_separators(S(""), S("a"), S(""), S("b"));
}

static void test_table_builder_rejects_order(void **state)
{
	struct table_builder *b = table_builder_new();
	uint8_t *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(table_builder_add(b, (const uint8_t *)"b", 1, NULL, 0), 0);
	assert_int_equal(table_builder_add(b, (const uint8_t *)"b", 1, NULL, 0), -EINVAL);
	/* Sticky: a good key afterwards still fails, and so does finish. */
	assert_int_equal(table_builder_add(b, (const uint8_t *)"c", 1, NULL, 0), -EINVAL);
	assert_int_equal(table_builder_finish(b, &out, &len), -EINVAL);
	assert_null(out);
	table_builder_free(b);

	b = table_builder_new();
	assert_int_equal(table_builder_add(b, (const uint8_t *)"b", 1, NULL, 0), 0);
	assert_int_equal(table_builder_add(b, (const uint8_t *)"a", 1, NULL, 0), -EINVAL);
	table_builder_free(b); /* freeing unfinished is fine */
	table_builder_free(NULL);
}

/* ------------------------------------------------ corruption catalogue */

/*
 * A table assembled by hand from finished data blocks and chosen index
 * keys, for damage table_builder refuses to produce.
 */
struct raw_table {
	struct bytebuf file;
	struct block_builder index;
};

static void raw_block(struct raw_table *t, const uint8_t *p, size_t n, uint64_t *off)
{
	*off = t->file.len;
	bytebuf_append(&t->file, p, n);
	bytebuf_append(&t->file, "", 1); /* type 0 */
	bytebuf_put_fixed32(&t->file, 0);
	fix_crc(t->file.data, (size_t)*off, n);
}

static void raw_add(struct raw_table *t, const uint8_t *p, size_t n, const char *index_key)
{
	uint8_t h[20];
	size_t hl;
	uint64_t off;

	raw_block(t, p, n, &off);
	hl = coding_put_varint64(h, off);
	hl += coding_put_varint64(h + hl, n);
	block_builder_add(&t->index, (const uint8_t *)index_key, strlen(index_key), h, hl);
}

/* Add a data block holding keys (NULL-terminated list), empty values. */
static void raw_add_keys(struct raw_table *t, const char *const *keys, const char *index_key)
{
	struct block_builder bb;
	const uint8_t *p;
	size_t n = 0;

	block_builder_init(&bb, TABLE_RESTART_INTERVAL);
	for (; *keys; keys++)
		block_builder_add(&bb, (const uint8_t *)*keys, strlen(*keys), NULL, 0);
	p = block_builder_finish(&bb, &n);
	assert_non_null(p);
	raw_add(t, p, n, index_key);
	block_builder_release(&bb);
}

static uint8_t *raw_finish(struct raw_table *t, size_t *len)
{
	static const uint8_t empty[8] = { 0, 0, 0, 0, 1, 0, 0, 0 };
	uint8_t footer[TABLE_FOOTER_SIZE] = { 0 };
	uint64_t meta, index;
	const uint8_t *p;
	size_t n = 0, fl;

	raw_block(t, empty, sizeof(empty), &meta);
	p = block_builder_finish(&t->index, &n);
	assert_non_null(p);
	raw_block(t, p, n, &index);
	fl = coding_put_varint64(footer, meta);
	fl += coding_put_varint64(footer + fl, sizeof(empty));
	fl += coding_put_varint64(footer + fl, index);
	coding_put_varint64(footer + fl, n);
	coding_put_fixed64(footer + 40, TABLE_MAGIC);
	bytebuf_append(&t->file, footer, sizeof(footer));
	block_builder_release(&t->index);
	assert_int_equal(t->file.err, 0);
	return bytebuf_detach(&t->file, len);
}

static void raw_init(struct raw_table *t)
{
	memset(t, 0, sizeof(*t));
	block_builder_init(&t->index, 1);
}

static void test_corrupt_short_and_magic(void **state)
{
	uint8_t buf[sizeof(minimal)];

	(void)state;
	expect_fail(minimal, 47, -EBADMSG, "file is too short to be an sstable");
	expect_fail(minimal, 0, -EBADMSG, "too short");
	memcpy(buf, minimal, sizeof(buf));
	buf[sizeof(buf) - 1] ^= 0x01;
	expect_fail(buf, sizeof(buf), -EBADMSG, "not an sstable (bad magic number)");
	/* Trailing garbage moves the footer: the magic is not at EOF-8. */
	expect_fail(minimal, sizeof(minimal) - 1, -EBADMSG, "bad magic");
}

static void test_corrupt_checksums(void **state)
{
	uint8_t buf[sizeof(minimal)];

	(void)state;
	memcpy(buf, minimal, sizeof(buf));
	buf[0x0C] ^= 0x20; /* key "a" -> "A" */
	expect_fail(buf, sizeof(buf), -EBADMSG, "block checksum mismatch in data block 0");

	memcpy(buf, minimal, sizeof(buf));
	buf[0x35] ^= 0x01; /* index key "b" -> "c" */
	expect_fail(buf, sizeof(buf), -EBADMSG, "block checksum mismatch in index block");

	memcpy(buf, minimal, sizeof(buf));
	buf[0x2A] ^= 0x01; /* the stored crc itself */
	expect_fail(buf, sizeof(buf), -EBADMSG, "block checksum mismatch in metaindex block");

	/* The crc covers the type byte: a bare type flip is a mismatch. */
	memcpy(buf, minimal, sizeof(buf));
	buf[0x20] = 1;
	expect_fail(buf, sizeof(buf), -EBADMSG, "block checksum mismatch in data block 0");
}

static void test_corrupt_block_type(void **state)
{
	uint8_t buf[sizeof(minimal)];

	(void)state;
	memcpy(buf, minimal, sizeof(buf));
	buf[0x20] = 2;
	fix_crc(buf, 0, 0x20);
	expect_fail(buf, sizeof(buf), -ENOTSUP, "unknown block compression type 2 in data block 0");

	memcpy(buf, minimal, sizeof(buf));
	buf[0x40] = 0xff;
	fix_crc(buf, 0x32, 0x0E);
	expect_fail(buf, sizeof(buf), -ENOTSUP,
		    "unknown block compression type 255 in index block");
}

static void test_corrupt_handles(void **state)
{
	uint8_t buf[sizeof(minimal)];

	(void)state;
	/* Footer: index block size 0x7E runs past the blocks. */
	memcpy(buf, minimal, sizeof(buf));
	buf[0x48] = 0x7E;
	expect_fail(buf, sizeof(buf), -EBADMSG, "bad block handle for index block");

	/* Footer: handles that never end. */
	memcpy(buf, minimal, sizeof(buf));
	memset(buf + 0x45, 0x80, 40);
	expect_fail(buf, sizeof(buf), -EBADMSG, "bad block handle in footer");

	/* Index entry: data block size 0x7F, crc fixed so only that is off. */
	memcpy(buf, minimal, sizeof(buf));
	buf[0x37] = 0x7F;
	fix_crc(buf, 0x32, 0x0E);
	expect_fail(buf, sizeof(buf), -EBADMSG, "bad block handle for data block 0");

	/* Metaindex handle past EOF. */
	memcpy(buf, minimal, sizeof(buf));
	buf[0x45] = 0x70;
	expect_fail(buf, sizeof(buf), -EBADMSG, "bad block handle for metaindex block");
}

static void test_corrupt_handle_extra_bytes(void **state)
{
	static const char *const a[] = { "", "a", NULL };
	struct raw_table t;
	uint8_t *buf;
	size_t len = 0;

	(void)state;
	/* Entry 1's value is a handle (0, 5) plus one stray byte. */
	raw_init(&t);
	raw_add_keys(&t, a, "a");
	block_builder_add(&t.index, (const uint8_t *)"b", 1, (const uint8_t *)"\x00\x05\x00", 3);
	buf = raw_finish(&t, &len);
	expect_fail(buf, len, -EBADMSG, "bad block handle in index block for data block 1");
	free(buf);
}

static void test_corrupt_index_restarts(void **state)
{
	uint8_t buf[sizeof(minimal)];

	(void)state;
	memcpy(buf, minimal, sizeof(buf));
	coding_put_fixed32(buf + 0x32 + 10, 9); /* restart count 1 -> 9 */
	fix_crc(buf, 0x32, 0x0E);
	expect_fail(buf, sizeof(buf), -EBADMSG,
		    "index block: restart count does not fit the block");
}

static void test_corrupt_unsorted_keys(void **state)
{
	static const char *const keys[] = { "", "b", "a", NULL };
	struct raw_table t;
	uint8_t *buf;
	size_t len = 0;

	(void)state;
	raw_init(&t);
	raw_add_keys(&t, keys, "c");
	buf = raw_finish(&t, &len);
	expect_fail(buf, len, -EBADMSG, "data block 0: keys out of order");
	free(buf);
}

static void test_corrupt_duplicate_keys(void **state)
{
	static const char *const b0[] = { "", "a", NULL };
	static const char *const b1[] = { "b", "b", NULL };
	struct raw_table t;
	uint8_t *buf;
	size_t len = 0;

	(void)state;
	raw_init(&t);
	raw_add_keys(&t, b0, "a");
	raw_add_keys(&t, b1, "c");
	buf = raw_finish(&t, &len);
	expect_fail(buf, len, -EBADMSG, "data block 1: duplicate key");
	free(buf);
}

static void test_corrupt_index_keys(void **state)
{
	static const char *const ac[] = { "a", "c", NULL };
	static const char *const a[] = { "a", NULL };
	static const char *const b[] = { "b", NULL };
	static const char *const c[] = { "c", NULL };
	struct raw_table t;
	uint8_t *buf;
	size_t len = 0;

	(void)state;
	/* A lookup of "c" would stop at index key "b" and miss it. */
	raw_init(&t);
	raw_add_keys(&t, ac, "b");
	buf = raw_finish(&t, &len);
	expect_fail(buf, len, -EBADMSG, "index key of data block 0 is below its last key");
	free(buf);

	/* "b" sorts after "a" but a lookup would stop at block 0 ("c"). */
	raw_init(&t);
	raw_add_keys(&t, a, "c");
	raw_add_keys(&t, b, "d");
	buf = raw_finish(&t, &len);
	expect_fail(buf, len, -EBADMSG,
		    "data block 1: first key is not above the previous "
		    "index key");
	free(buf);

	raw_init(&t);
	raw_add_keys(&t, a, "b");
	raw_add_keys(&t, c, "b");
	buf = raw_finish(&t, &len);
	expect_fail(buf, len, -EBADMSG, "index block: keys out of order");
	free(buf);
}

static void test_corrupt_truncated_varint(void **state)
{
	/* One entry whose first varint never ends, under a valid crc. */
	static const uint8_t blk[] = { 0x80, 0, 0, 0, 0, 1, 0, 0, 0 };
	static const char *const a[] = { "", "a", NULL };
	struct raw_table t;
	uint8_t *buf;
	size_t len = 0;

	(void)state;
	raw_init(&t);
	raw_add_keys(&t, a, "a");
	raw_add(&t, blk, sizeof(blk), "b");
	buf = raw_finish(&t, &len);
	expect_fail(buf, len, -EBADMSG, "data block 1: bad entry header (truncated varint)");
	free(buf);
}

static void test_corrupt_snappy(void **state)
{
	const uint8_t *f, *p;
	uint64_t off, size;
	struct block_iter it;
	size_t len = 0;
	uint8_t *buf = corpus_index("serving_half_plus_two_tf1", &len);

	(void)state;
	f = buf + len - TABLE_FOOTER_SIZE;
	p = coding_get_varint64(f, f + 40, &off);
	p = coding_get_varint64(p, f + 40, &size);
	p = coding_get_varint64(p, f + 40, &off);
	assert_non_null(coding_get_varint64(p, f + 40, &size));
	assert_int_equal(block_iter_init(&it, buf + off, (size_t)size), 0);
	assert_int_equal(block_iter_next(&it), 1);
	p = coding_get_varint64(it.val, it.val + it.val_len, &off);
	assert_non_null(coding_get_varint64(p, it.val + it.val_len, &size));
	block_iter_release(&it);
	assert_int_equal(buf[off + size], 1);

	/* Claim a different uncompressed length, crc fixed. */
	buf[off] = 0x7f;
	fix_crc(buf, (size_t)off, (size_t)size);
	expect_fail(buf, len, -EBADMSG, "corrupt snappy data in data block 0");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_minimal_bundle),
		cmocka_unit_test(test_table_rust_golden),
		cmocka_unit_test(test_table_corpus),
		cmocka_unit_test(test_table_many_blocks),
		cmocka_unit_test(test_table_empty),
		cmocka_unit_test(test_table_block_boundary),
		cmocka_unit_test(test_table_separators),
		cmocka_unit_test(test_table_builder_rejects_order),
		cmocka_unit_test(test_corrupt_short_and_magic),
		cmocka_unit_test(test_corrupt_checksums),
		cmocka_unit_test(test_corrupt_block_type),
		cmocka_unit_test(test_corrupt_handles),
		cmocka_unit_test(test_corrupt_handle_extra_bytes),
		cmocka_unit_test(test_corrupt_index_restarts),
		cmocka_unit_test(test_corrupt_unsorted_keys),
		cmocka_unit_test(test_corrupt_duplicate_keys),
		cmocka_unit_test(test_corrupt_index_keys),
		cmocka_unit_test(test_corrupt_truncated_varint),
		cmocka_unit_test(test_corrupt_snappy),
	};

	return cmocka_run_group_tests_name("bundle_table", tests, NULL, NULL);
}
