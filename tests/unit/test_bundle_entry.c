/*
 * test_bundle_entry.c - BundleEntryProto bytes as TensorFlow writes them
 * (docs/checkpoint-format.md §3.2, §9.1), entry validation, and tensor
 * checksums (§4).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "bundle/coding.h"
#include "bundle/entry.h"
#include "util/util.h"

static void roundtrip(const uint8_t *bytes, size_t n, struct bundle_entry *e, struct util_arena *a)
{
	uint8_t *out;
	size_t len;
	char err[256];

	assert_int_equal(entry_decode(bytes, n, a, e, err, sizeof(err)), 0);
	assert_int_equal(bundle_entry_encode(e, &out, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, bytes, n);
	free(out);
}

static void test_entry_float_vector_real_bytes(void **state)
{
	/* float32 [1] at offset 4 of shard 0, from a real TF file */
	static const uint8_t b[] = { 0x08, 0x01, 0x12, 0x04, 0x12, 0x02, 0x08, 0x01, 0x20,
				     0x04, 0x28, 0x04, 0x35, 0xA6, 0x7B, 0x11, 0x3A };
	struct util_arena a = { 0 };
	struct bundle_entry e;

	(void)state;
	roundtrip(b, sizeof(b), &e, &a);
	assert_int_equal(e.dtype, BUNDLE_DT_FLOAT);
	assert_int_equal(e.rank, 1);
	assert_int_equal(e.dims[0], 1);
	assert_int_equal(e.shard_id, 0);
	assert_int_equal(e.offset, 4);
	assert_int_equal(e.size, 4);
	assert_int_equal(e.crc32c, 0x3A117BA6);
	util_arena_release(&a);
}

static void test_entry_scalar_keeps_empty_shape(void **state)
{
	static const uint8_t b[] = { 0x08, 0x01, 0x12, 0x00, 0x28, 0x04,
				     0x35, 0x81, 0xA5, 0xDA, 0x2B };
	struct util_arena a = { 0 };
	struct bundle_entry e;

	(void)state;
	roundtrip(b, sizeof(b), &e, &a);
	assert_int_equal(e.rank, 0);
	assert_int_equal(e.offset, 0);
	util_arena_release(&a);
}

static void test_entry_partitioned_slices(void **state)
{
	struct bundle_extent x0[2] = { { 0, 4 }, { 0, -1 } };
	struct bundle_extent x1[2] = { { 4, 0 }, { 0, -1 } };
	struct bundle_slice sl[2] = { { 2, x0 }, { 2, x1 } };
	int64_t dims[2] = { 4, 3 };
	struct bundle_entry e = { .dtype = 1,
				  .rank = 2,
				  .dims = dims,
				  .n_slices = 2,
				  .slices = sl },
			    d;
	/* {0,4} -> 0A 02 10 04; whole dim -> 0A 00; {4,0} -> 0A 04 08 04 10 00 */
	static const uint8_t want[] = {
		0x08, 0x01, 0x12, 0x08, 0x12, 0x02, 0x08, 0x04, 0x12, 0x02,
		0x08, 0x03, 0x3A, 0x06, 0x0A, 0x02, 0x10, 0x04, 0x0A, 0x00,
		0x3A, 0x08, 0x0A, 0x04, 0x08, 0x04, 0x10, 0x00, 0x0A, 0x00
	};
	struct util_arena a = { 0 };
	uint8_t *out;
	size_t len;

	(void)state;
	assert_int_equal(bundle_entry_encode(&e, &out, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, len);
	roundtrip(out, len, &d, &a);
	assert_int_equal(d.n_slices, 2);
	assert_int_equal(d.slices[0].extents[1].length, -1);
	assert_int_equal(d.slices[1].extents[0].start, 4);
	assert_int_equal(d.slices[1].extents[0].length, 0);
	free(out);
	util_arena_release(&a);
}

static void expect_bad(const uint8_t *b, size_t n, int code, const char *frag)
{
	struct util_arena a = { 0 };
	struct bundle_entry e;
	char err[256] = "";

	assert_int_equal(entry_decode(b, n, &a, &e, err, sizeof(err)), code);
	assert_non_null(strstr(err, frag));
	util_arena_release(&a);
}

static void test_entry_rejects_bad_entries(void **state)
{
	static const uint8_t unknown_dtype[] = { 0x08, 0x63, 0x12, 0x00 };
	static const uint8_t invalid_dtype[] = { 0x08, 0x00, 0x12, 0x00 };
	static const uint8_t resource[] = { 0x08, 0x14, 0x12, 0x00 };
	/* float32 [2] but size 4 */
	static const uint8_t bad_size[] = { 0x08, 0x01, 0x12, 0x04, 0x12,
					    0x02, 0x08, 0x02, 0x28, 0x04 };
	/* dim -1 (10-byte varint) */
	static const uint8_t neg_dim[] = { 0x08, 0x01, 0x12, 0x0D, 0x12, 0x0B, 0x08, 0xFF, 0xFF,
					   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 };
	static const uint8_t garbage[] = { 0xFF, 0xFF, 0xFF };

	(void)state;
	expect_bad(unknown_dtype, sizeof(unknown_dtype), -ENOTSUP, "unknown dtype 99");
	expect_bad(invalid_dtype, sizeof(invalid_dtype), -ENOTSUP, "unknown dtype 0");
	expect_bad(resource, sizeof(resource), -ENOTSUP, "unsupported dtype 20 (resource)");
	expect_bad(bad_size, sizeof(bad_size), -EBADMSG, "invalid size 4");
	expect_bad(neg_dim, sizeof(neg_dim), -EBADMSG, "invalid tensor shape");
	expect_bad(garbage, sizeof(garbage), -EBADMSG, "not a parseable");
}

static void test_header_bytes(void **state)
{
	static const uint8_t one[] = { 0x08, 0x01, 0x1A, 0x02, 0x08, 0x01 };
	static const uint8_t big[] = { 0x08, 0x02, 0x10, 0x01, 0x1A, 0x02, 0x08, 0x01 };
	struct bytebuf b = { 0 };
	struct bundle_header h;

	(void)state;
	header_encode(1, &b);
	assert_int_equal(b.len, sizeof(one));
	assert_memory_equal(b.data, one, sizeof(one));
	bytebuf_release(&b);
	assert_int_equal(header_decode(big, sizeof(big), &h), 0);
	assert_int_equal(h.num_shards, 2);
	assert_int_equal(h.endianness, 1);
	assert_int_equal(h.producer, 1);
}

/* §9.1: string tensor layouts and entry CRCs. */
static void test_tensor_crc_strings(void **state)
{
	static const char *hello[] = { "hello" }, *empty_and_ab[] = { "", "ab" };
	static const size_t hello_len[] = { 5 }, eab_len[] = { 0, 2 };
	static const uint8_t hello_bytes[] = {
		0x05, 0xD9, 0xC6, 0x9C, 0x43, 'h', 'e', 'l', 'l', 'o'
	};
	static const uint8_t eab_bytes[] = { 0x00, 0x02, 0x77, 0x51, 0x99, 0xC4, 'a', 'b' };
	uint8_t *buf;
	size_t len;
	uint32_t crc;

	(void)state;
	assert_int_equal(bundle_string_encode(hello, hello_len, 1, &buf, &len), 0);
	assert_int_equal(len, sizeof(hello_bytes));
	assert_memory_equal(buf, hello_bytes, len);
	assert_int_equal(bundle_tensor_crc(BUNDLE_DT_STRING, 1, buf, len, &crc), 0);
	assert_int_equal(bundle_crc_mask(crc), 0x29C0E0EC);
	free(buf);
	assert_int_equal(bundle_string_encode(empty_and_ab, eab_len, 2, &buf, &len), 0);
	assert_memory_equal(buf, eab_bytes, sizeof(eab_bytes));
	assert_int_equal(bundle_tensor_crc(BUNDLE_DT_STRING, 2, buf, len, &crc), 0);
	assert_int_equal(bundle_crc_mask(crc), 0x8130DDA5);
	free(buf);
	/* zero elements: just the masked checksum of nothing */
	assert_int_equal(bundle_string_encode(NULL, NULL, 0, &buf, &len), 0);
	assert_int_equal(len, 4);
	assert_int_equal(bundle_tensor_crc(BUNDLE_DT_STRING, 0, buf, len, &crc), 0);
	assert_int_equal(bundle_crc_mask(crc), 0x640CC1F6);
	free(buf);
}

static void test_tensor_crc_rejects_bad_strings(void **state)
{
	/* wrong length checksum */
	static const uint8_t bad_sum[] = { 0x05, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
	/* length runs past the buffer */
	static const uint8_t too_long[] = { 0x09, 0xD9, 0xC6, 0x9C, 0x43, 'h' };
	uint32_t crc;

	(void)state;
	assert_int_equal(bundle_tensor_crc(BUNDLE_DT_STRING, 1, bad_sum, sizeof(bad_sum), &crc),
			 -EBADMSG);
	assert_int_equal(bundle_tensor_crc(BUNDLE_DT_STRING, 1, too_long, sizeof(too_long), &crc),
			 -EBADMSG);
	assert_int_equal(bundle_tensor_crc(BUNDLE_DT_STRING, 2, too_long, 1, &crc), -EBADMSG);
}

/* One string's header, written apart from its bytes, and found again. */
static void test_string_head_and_scalar(void **state)
{
	static const uint8_t hello_bytes[] = { 0x05, 0xD9, 0xC6, 0x9C, 0x43, 'h',
					       'e',  'l',  'l',  'o',  'x' };
	uint8_t head[BUNDLE_STRING_HEAD_MAX];
	char long_str[300];
	uint8_t *enc;
	size_t enc_len, off, len;

	(void)state;
	assert_int_equal(bundle_string_head(5, head), 5);
	assert_memory_equal(head, hello_bytes, 5);
	/* a 2-byte varint: the header bundle_string_encode() writes */
	memset(long_str, 'z', sizeof(long_str));
	assert_int_equal(bundle_string_encode((const char *const[]){ long_str },
					      (const size_t[]){ sizeof(long_str) }, 1, &enc,
					      &enc_len),
			 0);
	assert_int_equal(bundle_string_head(sizeof(long_str), head), 6);
	assert_int_equal(enc_len, 6 + sizeof(long_str));
	assert_memory_equal(head, enc, 6);
	free(enc);
	/* trailing bytes are ignored; a cut header or string is refused */
	assert_int_equal(bundle_string_scalar(hello_bytes, sizeof(hello_bytes), &off, &len), 0);
	assert_int_equal(off, 5);
	assert_int_equal(len, 5);
	assert_int_equal(bundle_string_scalar(hello_bytes, 9, &off, &len), -EBADMSG);
	assert_int_equal(bundle_string_scalar(hello_bytes, 4, &off, &len), -EBADMSG);
	assert_int_equal(bundle_string_scalar(hello_bytes, 0, &off, &len), -EBADMSG);
}

static void test_tensor_crc_numeric(void **state)
{
	static const uint8_t one[] = { 0x00, 0x00, 0x80, 0x3F };
	uint32_t crc;

	(void)state;
	assert_int_equal(bundle_tensor_crc(BUNDLE_DT_FLOAT, 1, one, 4, &crc), 0);
	assert_int_equal(crc, 0xDD54C4AB);
	assert_int_equal(bundle_crc_mask(crc), 0x2BDAA581);
	assert_int_equal(bundle_tensor_crc(BUNDLE_DT_FLOAT, 0, one, 0, &crc), 0);
	assert_int_equal(bundle_crc_mask(crc), 0xA282EAD8);
}

static void test_dtype_names_and_sizes(void **state)
{
	(void)state;
	assert_string_equal(bundle_dtype_name(BUNDLE_DT_HALF), "float16");
	assert_string_equal(bundle_dtype_name(BUNDLE_DT_BFLOAT16), "bfloat16");
	assert_string_equal(bundle_dtype_name(BUNDLE_DT_DOUBLE), "float64");
	assert_null(bundle_dtype_name(0));
	assert_null(bundle_dtype_name(34));
	assert_int_equal(bundle_dtype_size(BUNDLE_DT_COMPLEX128), 16);
	assert_int_equal(bundle_dtype_size(BUNDLE_DT_STRING), 0);
	assert_int_equal(bundle_dtype_size(BUNDLE_DT_RESOURCE), -1);
	assert_int_equal(bundle_num_elements(0, NULL), 1);
	assert_int_equal(bundle_num_elements(2, (int64_t[]){ 3, 0 }), 0);
	assert_int_equal(bundle_num_elements(2, (int64_t[]){ INT64_MAX, 2 }), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_float_vector_real_bytes),
		cmocka_unit_test(test_entry_scalar_keeps_empty_shape),
		cmocka_unit_test(test_entry_partitioned_slices),
		cmocka_unit_test(test_entry_rejects_bad_entries),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_tensor_crc_strings),
		cmocka_unit_test(test_tensor_crc_rejects_bad_strings),
		cmocka_unit_test(test_string_head_and_scalar),
		cmocka_unit_test(test_tensor_crc_numeric),
		cmocka_unit_test(test_dtype_names_and_sizes),
	};
	return cmocka_run_group_tests_name("bundle_entry", tests, NULL, NULL);
}
