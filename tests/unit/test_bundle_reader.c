/*
 * test_bundle_reader.c - write bundles with our writer, read them back, and
 * the golden catalogue of bundle-level corruptions (each: error code and a
 * message fragment). Table-level corruptions are in test_bundle_table.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "bundle/table.h"
#include "tests/unit/testutil.h"

static char path[512];

static const char *at(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", testutil_dir, name);
	return path;
}

static void write_file(const char *p, const void *buf, size_t len)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* A two-tensor bundle: "a" float32 [2] = {1, 2}, "s" string ["x", ""]. */
static void write_small(const char *prefix)
{
	static const float a[2] = { 1.0f, 2.0f };
	static const char *strs[] = { "x", "" };
	static const size_t lens[] = { 1, 0 };
	struct bundle_entry ea = {
		.key = "a",
		.key_len = 1,
		.dtype = 1,
		.rank = 1,
		.dims = (int64_t[]){ 2 },
	};
	struct bundle_entry es = {
		.key = "s",
		.key_len = 1,
		.dtype = 7,
		.rank = 1,
		.dims = (int64_t[]){ 2 },
	};
	struct bundle_writer *w;
	char err[BUNDLE_ERR_MAX];
	uint8_t *sb;
	size_t sl;

	assert_int_equal(bundle_writer_open(prefix, &w, err, sizeof(err)), 0);
	/* added out of key order on purpose: the writer sorts */
	assert_int_equal(bundle_string_encode(strs, lens, 2, &sb, &sl), 0);
	assert_int_equal(bundle_writer_add(w, &es, sb, sl), 0);
	assert_int_equal(bundle_writer_add(w, &ea, a, sizeof(a)), 0);
	assert_int_equal(bundle_writer_finish(w, err, sizeof(err)), 0);
	bundle_writer_free(w);
	free(sb);
}

static void test_reader_roundtrip(void **state)
{
	struct bundle_reader *r;
	struct bundle_entry found;
	const struct bundle_entry *e;
	char err[BUNDLE_ERR_MAX];
	float got[2];

	(void)state;
	write_small(at("rt"));
	assert_int_equal(bundle_open(at("rt"), &r, err, sizeof(err)), 0);
	assert_int_equal(bundle_num_entries(r), 2);
	assert_int_equal(bundle_num_shards(r), 1);
	e = bundle_lookup(r, "a", 1, &found);
	assert_non_null(e);
	assert_int_equal(e->offset, 7); /* after the string tensor: 2 varints, 4 crc, "x" */
	assert_int_equal(bundle_read_tensor(r, e, got, err, sizeof(err)), 0);
	assert_true(got[0] == 1.0f && got[1] == 2.0f);
	assert_true(bundle_find(r, "b", 1) == BUNDLE_NOT_FOUND);
	assert_string_equal(bundle_entry_at(r, 1).key, "s");
	bundle_close(r);
}

static void expect_open_error(const char *p, int code, const char *frag)
{
	struct bundle_reader *r = NULL;
	char err[BUNDLE_ERR_MAX] = "";

	assert_int_equal(bundle_open(p, &r, err, sizeof(err)), code);
	assert_null(r);
	if (!strstr(err, frag))
		fail_msg("message '%s' lacks '%s'", err, frag);
}

static void test_reader_missing_shard(void **state)
{
	(void)state;
	write_small(at("ms"));
	unlink(at("ms.data-00000-of-00001"));
	expect_open_error(at("ms"), -ENOENT, "ms.data-00000-of-00001': cannot open data shard");
}

static void test_reader_offset_past_end_of_shard(void **state)
{
	(void)state;
	write_small(at("tr"));
	assert_int_equal(truncate(at("tr.data-00000-of-00001"), 9), 0);
	expect_open_error(at("tr"), -EBADMSG,
			  "tensor 'a' (offset 7, size 8) runs past the end of data shard 0");
}

static void test_reader_not_a_checkpoint(void **state)
{
	(void)state;
	expect_open_error(at("nothing"), -ENOENT, "nothing.index' does not exist");
	expect_open_error(testutil_dir, -ENOENT, "no checkpoint here");
}

/* An index built by hand from raw (key, value) pairs. */
static void write_raw_index(const char *name, const char **keys, const uint8_t **vals,
			    const size_t *vlens, size_t n)
{
	struct table_builder *b = table_builder_new();
	uint8_t *buf;
	size_t len;

	for (size_t i = 0; i < n; i++)
		assert_int_equal(table_builder_add(b, (const uint8_t *)keys[i], strlen(keys[i]),
						   vals[i], vlens[i]),
				 0);
	assert_int_equal(table_builder_finish(b, &buf, &len), 0);
	write_file(at(name), buf, len);
	table_builder_free(b);
	free(buf);
}

static void test_reader_big_endian_header(void **state)
{
	static const uint8_t hdr[] = { 0x08, 0x01, 0x10, 0x01, 0x1A, 0x02, 0x08, 0x01 };
	const char *keys[] = { "" };
	const uint8_t *vals[] = { hdr };
	const size_t lens[] = { sizeof(hdr) };

	(void)state;
	write_raw_index("be.index", keys, vals, lens, 1);
	expect_open_error(at("be"), -ENOTSUP, "be.index': big-endian bundle");
}

static void test_reader_no_header(void **state)
{
	static const uint8_t v[] = { 0x08, 0x01, 0x12, 0x00 };
	const char *keys[] = { "a" };
	const uint8_t *vals[] = { v };
	const size_t lens[] = { sizeof(v) };

	(void)state;
	write_raw_index("nh.index", keys, vals, lens, 1);
	expect_open_error(at("nh"), -EBADMSG, "no header entry");
}

static void test_reader_shard_id_out_of_range(void **state)
{
	static const uint8_t hdr[] = { 0x08, 0x01, 0x1A, 0x02, 0x08, 0x01 };
	/* float32 scalar in shard 1 */
	static const uint8_t v[] = { 0x08, 0x01, 0x12, 0x00, 0x18, 0x01, 0x28, 0x04 };
	const char *keys[] = { "", "w" };
	const uint8_t *vals[] = { hdr, v };
	const size_t lens[] = { sizeof(hdr), sizeof(v) };

	(void)state;
	write_raw_index("sh.index", keys, vals, lens, 2);
	expect_open_error(at("sh"), -EBADMSG,
			  "sh.index': tensor 'w': shard_id 1 out of range (num_shards 1)");
}

static void test_reader_unknown_dtype(void **state)
{
	static const uint8_t hdr[] = { 0x08, 0x01, 0x1A, 0x02, 0x08, 0x01 };
	static const uint8_t v[] = { 0x08, 0x63, 0x12, 0x00 };
	const char *keys[] = { "", "w" };
	const uint8_t *vals[] = { hdr, v };
	const size_t lens[] = { sizeof(hdr), sizeof(v) };

	(void)state;
	write_raw_index("dt.index", keys, vals, lens, 2);
	expect_open_error(at("dt"), -ENOTSUP, "tensor 'w': unknown dtype 99");
}

static void test_reader_missing_piece(void **state)
{
	static const uint8_t hdr[] = { 0x08, 0x01, 0x1A, 0x02, 0x08, 0x01 };
	/* float32 [4] partitioned into one piece {0,4}, piece entry absent */
	static const uint8_t v[] = { 0x08, 0x01, 0x12, 0x04, 0x12, 0x02, 0x08,
				     0x04, 0x3A, 0x04, 0x0A, 0x02, 0x10, 0x04 };
	const char *keys[] = { "", "p" };
	const uint8_t *vals[] = { hdr, v };
	const size_t lens[] = { sizeof(hdr), sizeof(v) };

	(void)state;
	write_raw_index("pc.index", keys, vals, lens, 2);
	write_file(at("pc.data-00000-of-00001"), "", 0);
	expect_open_error(at("pc"), -EBADMSG, "partitioned tensor 'p': piece [0:4] is missing");
}

static void test_reader_detects_corruption_and_truncation_after_open(void **state)
{
	struct bundle_reader *r;
	struct bundle_entry found;
	const struct bundle_entry *e;
	char err[BUNDLE_ERR_MAX];
	uint8_t buf[16];
	int fd;

	(void)state;
	write_small(at("co"));
	assert_int_equal(bundle_open(at("co"), &r, err, sizeof(err)), 0);
	fd = open(at("co.data-00000-of-00001"), O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x7f", 1, 8), 1); /* inside "a" */
	close(fd);
	e = bundle_lookup(r, "a", 1, &found);
	assert_int_equal(bundle_read_tensor(r, e, buf, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "tensor 'a': checksum mismatch"));
	assert_int_equal(truncate(at("co.data-00000-of-00001"), 2), 0);
	assert_int_equal(bundle_read_tensor(r, e, buf, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "short read"));
	bundle_close(r);
}

static void test_resolve_directory_forms(void **state)
{
	char err[BUNDLE_ERR_MAX], *p;
	char sub[600];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/ckdir", testutil_dir);
	mkdir(sub, 0755);
	write_small(at("ckdir/ckpt-7"));
	write_file(at("ckdir/checkpoint"),
		   "model_checkpoint_path: \"ckpt-7\"\nall_model_checkpoint_paths: \"ckpt-7\"\n",
		   67);
	assert_int_equal(bundle_resolve_prefix(sub, &p, err, sizeof(err)), 0);
	assert_string_equal(p, at("ckdir/ckpt-7"));
	free(p);
	mkdir(at("sm"), 0755);
	mkdir(at("sm/variables"), 0755);
	write_small(at("sm/variables/variables"));
	strcpy(sub, at("sm"));
	assert_int_equal(bundle_resolve_prefix(sub, &p, err, sizeof(err)), 0);
	assert_string_equal(p, at("sm/variables/variables"));
	free(p);
	strcpy(sub, at("sm/variables"));
	assert_int_equal(bundle_resolve_prefix(sub, &p, err, sizeof(err)), 0);
	assert_string_equal(p, at("sm/variables/variables"));
	free(p);
}

/*
 * A sparse 64 MiB zero tensor: no disk space, and a CRC computed without
 * reading zeros that matches the one computed over the real bytes.
 */
static void test_writer_zeros_are_holes_with_right_crc(void **state)
{
	const int64_t n = 64LL << 20;
	struct bundle_entry found;
	struct bundle_entry z = {
		.key = "z",
		.key_len = 1,
		.dtype = 4,
		.rank = 1,
		.dims = (int64_t[]){ n },
		.size = n,
	};
	struct bundle_writer *w;
	struct bundle_reader *r;
	char err[BUNDLE_ERR_MAX];
	struct stat st;
	void *buf = malloc((size_t)n);

	(void)state;
	assert_int_equal(bundle_writer_open(at("zz"), &w, err, sizeof(err)), 0);
	assert_int_equal(bundle_writer_add_zeros(w, &z), 0);
	assert_int_equal(bundle_writer_finish(w, err, sizeof(err)), 0);
	bundle_writer_free(w);
	assert_int_equal(stat(at("zz.data-00000-of-00001"), &st), 0);
	assert_int_equal(st.st_size, n);
	assert_true(st.st_blocks < 64);
	assert_int_equal(bundle_open(at("zz"), &r, err, sizeof(err)), 0);
	assert_int_equal(
		bundle_read_tensor(r, bundle_lookup(r, "z", 1, &found), buf, err, sizeof(err)), 0);
	bundle_close(r);
	free(buf);
}

static void test_writer_rejects_duplicates_and_cleans_up(void **state)
{
	static const float f = 1.0f;
	struct bundle_entry e = { .key = "d", .key_len = 1, .dtype = 1 };
	struct bundle_writer *w;
	char err[BUNDLE_ERR_MAX];

	(void)state;
	assert_int_equal(bundle_writer_open(at("dup"), &w, err, sizeof(err)), 0);
	assert_int_equal(bundle_writer_add(w, &e, &f, 4), 0);
	assert_int_equal(bundle_writer_add(w, &e, &f, 4), 0);
	assert_int_equal(bundle_writer_finish(w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "duplicate tensor 'd'"));
	bundle_writer_free(w);
	assert_int_equal(access(at("dup.index"), F_OK), -1);
	assert_int_equal(access(at("dup.data-00000-of-00001"), F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_roundtrip),
		cmocka_unit_test(test_reader_missing_shard),
		cmocka_unit_test(test_reader_offset_past_end_of_shard),
		cmocka_unit_test(test_reader_not_a_checkpoint),
		cmocka_unit_test(test_reader_big_endian_header),
		cmocka_unit_test(test_reader_no_header),
		cmocka_unit_test(test_reader_shard_id_out_of_range),
		cmocka_unit_test(test_reader_unknown_dtype),
		cmocka_unit_test(test_reader_missing_piece),
		cmocka_unit_test(test_reader_detects_corruption_and_truncation_after_open),
		cmocka_unit_test(test_resolve_directory_forms),
		cmocka_unit_test(test_writer_zeros_are_holes_with_right_crc),
		cmocka_unit_test(test_writer_rejects_duplicates_and_cleans_up),
	};
	return cmocka_run_group_tests_name("bundle_reader", tests, testutil_setup,
					   testutil_teardown);
}
