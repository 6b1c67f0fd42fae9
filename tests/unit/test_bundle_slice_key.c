/*
 * test_bundle_slice_key.c - partitioned-variable piece keys
 * (docs/checkpoint-format.md §5.1).
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

static void check_key(const char *name, size_t name_len, int rank, const int64_t *se,
		      const uint8_t *want, size_t want_len)
{
	struct bundle_extent x[8];
	struct bundle_slice s = { rank, x }, back;
	char *key, *dname;
	size_t len, dlen;

	for (int d = 0; d < rank; d++) {
		x[d].start = se[2 * d];
		x[d].length = se[2 * d + 1];
	}
	assert_int_equal(bundle_slice_key_encode(name, name_len, &s, &key, &len), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(key, want, want_len);
	assert_int_equal(bundle_slice_key_decode(key, len, &dname, &dlen, &back), 0);
	assert_int_equal(dlen, name_len);
	assert_memory_equal(dname, name, name_len);
	assert_int_equal(back.rank, rank);
	for (int d = 0; d < rank; d++) {
		assert_int_equal(back.extents[d].start, x[d].start);
		assert_int_equal(back.extents[d].length, x[d].length);
	}
	free(back.extents);
	free(dname);
	free(key);
}

static void test_slice_key_rows_of_2d(void **state)
{
	static const uint8_t want[] = { 0x00, 'f',  'o',  'o',  0x00, 0x01,
					0x01, 0x02, 0x80, 0x82, 0x80, 0x7F };
	static const uint8_t want2[] = { 0x00, 'f',  'o',  'o',  0x00, 0x01,
					 0x01, 0x02, 0x82, 0x83, 0x80, 0x7F };
	const int64_t se[] = { 0, 2, 0, -1 }, se2[] = { 2, 3, 0, -1 };

	(void)state;
	check_key("foo", 3, 2, se, want, sizeof(want));
	check_key("foo", 3, 2, se2, want2, sizeof(want2));
}

static void test_slice_key_two_byte_numbers(void **state)
{
	static const uint8_t want[] = { 0x00, 'a',  '/',  'b',  0x00, 0x01,
					0x01, 0x01, 0xC0, 0x64, 0xC0, 0x64 };
	const int64_t se[] = { 100, 100 };

	(void)state;
	check_key("a/b", 3, 1, se, want, sizeof(want));
}

static void test_slice_key_escapes_name_bytes(void **state)
{
	static const uint8_t want[] = { 0x00, 'a',  0x00, 0xFF, 0xFF, 0x00,
					0x00, 0x01, 0x01, 0x01, 0x80, 0x85 };
	const int64_t se[] = { 0, 5 };

	(void)state;
	check_key("a\0\xff", 3, 1, se, want, sizeof(want));
}

/* Signed numbers of every length class, from the §5.1 list. */
static void test_slice_key_signed_vectors(void **state)
{
	static const struct {
		int64_t v;
		uint8_t bytes[10];
		size_t n;
	} vec[] = {
		{ 0, { 0x80 }, 1 },
		{ 5, { 0x85 }, 1 },
		{ 63, { 0xBF }, 1 },
		{ -1, { 0x7F }, 1 },
		{ -64, { 0x40 }, 1 },
		{ 64, { 0xC0, 0x40 }, 2 },
		{ 1000, { 0xC3, 0xE8 }, 2 },
		{ 8192, { 0xE0, 0x20, 0x00 }, 3 },
		{ 2147483648LL, { 0xF8, 0x80, 0, 0, 0 }, 5 },
		{ -65, { 0x3F, 0xBF }, 2 },
		{ -2048, { 0x38, 0x00 }, 2 },
		{ 0x424242, { 0xF0, 0x42, 0x42, 0x42 }, 4 },
		{ INT64_MAX, { 0xFF, 0xC0, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, 10 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(*vec); i++) {
		/* name "x", rank 1, start v, length 0 */
		uint8_t want[32] = { 0x00, 'x', 0x00, 0x01, 0x01, 0x01 };
		const int64_t se[] = { vec[i].v, 0 };

		memcpy(want + 6, vec[i].bytes, vec[i].n);
		want[6 + vec[i].n] = 0x80;
		check_key("x", 1, 1, se, want, 7 + vec[i].n);
	}
}

static void test_slice_key_decode_rejects_garbage(void **state)
{
	static const char *bad[] = { "", "\x01",
				     "\x00"
				     "abc",
				     "\x00"
				     "a\x00\x02",
				     "\x00"
				     "a\x00\x01\x01" };
	static const size_t len[] = { 0, 1, 4, 4, 5 };
	struct bundle_slice s;
	char *name;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(bundle_slice_key_decode(bad[i], len[i], &name, &n, &s), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slice_key_rows_of_2d),
		cmocka_unit_test(test_slice_key_two_byte_numbers),
		cmocka_unit_test(test_slice_key_escapes_name_bytes),
		cmocka_unit_test(test_slice_key_signed_vectors),
		cmocka_unit_test(test_slice_key_decode_rejects_garbage),
	};
	return cmocka_run_group_tests_name("bundle_slice_key", tests, NULL, NULL);
}
