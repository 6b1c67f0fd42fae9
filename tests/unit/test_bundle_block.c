/*
 * test_bundle_block.c - SSTable blocks (bundle/block.h): exact bytes of
 * small blocks, round trips at restart intervals 1 and 16, and the
 * iterator's refusal of every kind of damaged block.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/block.h"
#include "bundle/coding.h"

#define N_KEYS 40

static void make_key(char *buf, size_t len, int i)
{
	snprintf(buf, len, "layer_%02d/kernel/%03d", i / 8, i);
}

/* Build N_KEYS keys (sharing long prefixes) at the given interval. */
static const uint8_t *build_many(struct block_builder *bb, int interval, size_t *len)
{
	char key[64], val[32];

	block_builder_init(bb, interval);
	for (int i = 0; i < N_KEYS; i++) {
		make_key(key, sizeof(key), i);
		snprintf(val, sizeof(val), "value %d", i * 7);
		block_builder_add(bb, (const uint8_t *)key, strlen(key), (const uint8_t *)val,
				  strlen(val));
	}
	assert_int_equal(block_builder_size(bb),
			 bb->buf.len + 4 * (size_t)((N_KEYS + interval - 1) / interval) + 4);
	return block_builder_finish(bb, len);
}

/* Iterate data[0..len) and check it holds exactly build_many's pairs. */
static void check_many(const uint8_t *data, size_t len)
{
	struct block_iter it;
	char key[64], val[32];

	assert_int_equal(block_iter_init(&it, data, len), 0);
	for (int i = 0; i < N_KEYS; i++) {
		assert_int_equal(block_iter_next(&it), 1);
		make_key(key, sizeof(key), i);
		snprintf(val, sizeof(val), "value %d", i * 7);
		assert_int_equal(it.key.len, strlen(key));
		assert_memory_equal(it.key.data, key, strlen(key));
		assert_int_equal(it.val_len, strlen(val));
		assert_memory_equal(it.val, val, strlen(val));
	}
	assert_int_equal(block_iter_next(&it), 0);
	assert_int_equal(block_iter_next(&it), 0); /* stays at the end */
	block_iter_release(&it);
}

static void test_block_empty(void **state)
{
	static const uint8_t expect[] = { 0, 0, 0, 0, 1, 0, 0, 0 };
	struct block_builder bb;
	struct block_iter it;
	const uint8_t *p;
	size_t len = 0;

	(void)state;
	block_builder_init(&bb, 16);
	assert_int_equal(block_builder_size(&bb), 8);
	p = block_builder_finish(&bb, &len);
	assert_non_null(p);
	assert_int_equal(len, sizeof(expect));
	assert_memory_equal(p, expect, sizeof(expect));
	assert_int_equal(block_iter_init(&it, p, len), 0);
	assert_int_equal(block_iter_next(&it), 0);
	block_iter_release(&it);
	block_builder_release(&bb);
}

static void test_block_one_key(void **state)
{
	static const uint8_t expect[] = { 0x00, 0x01, 0x02, 'a', 'x', 'y', 0, 0, 0, 0, 1, 0, 0, 0 };
	struct block_builder bb;
	struct block_iter it;
	const uint8_t *p;
	size_t len = 0;

	(void)state;
	block_builder_init(&bb, 16);
	block_builder_add(&bb, (const uint8_t *)"a", 1, (const uint8_t *)"xy", 2);
	assert_int_equal(block_builder_size(&bb), sizeof(expect));
	p = block_builder_finish(&bb, &len);
	assert_int_equal(len, sizeof(expect));
	assert_memory_equal(p, expect, sizeof(expect));
	assert_int_equal(block_iter_init(&it, p, len), 0);
	assert_int_equal(block_iter_next(&it), 1);
	assert_int_equal(it.key.len, 1);
	assert_int_equal(it.key.data[0], 'a');
	assert_int_equal(it.val_len, 2);
	assert_memory_equal(it.val, "xy", 2);
	assert_int_equal(block_iter_next(&it), 0);
	block_iter_release(&it);
	block_builder_release(&bb);
}

static void test_block_prefix_bytes(void **state)
{
	/* "abc" then "abd": the second stores shared 2, delta "d". */
	static const uint8_t expect[] = { 0x00, 0x03, 0x01, 'a', 'b', 'c', '1', 0x02, 0x01, 0x00,
					  'd',  0,    0,    0,   0,   1,   0,   0,    0 };
	struct block_builder bb;
	const uint8_t *p;
	size_t len = 0;

	(void)state;
	block_builder_init(&bb, 16);
	block_builder_add(&bb, (const uint8_t *)"abc", 3, (const uint8_t *)"1", 1);
	block_builder_add(&bb, (const uint8_t *)"abd", 3, NULL, 0);
	p = block_builder_finish(&bb, &len);
	assert_int_equal(len, sizeof(expect));
	assert_memory_equal(p, expect, sizeof(expect));
	block_builder_release(&bb);
}

static void test_block_interval_16(void **state)
{
	struct block_builder bb;
	const uint8_t *p;
	size_t len = 0;

	(void)state;
	p = build_many(&bb, 16, &len);
	assert_non_null(p);
	/* 40 entries, a restart every 16: at entries 0, 16 and 32. */
	assert_int_equal(coding_get_fixed32(p + len - 4), 3);
	check_many(p, len);
	block_builder_release(&bb);
}

static void test_block_interval_1(void **state)
{
	struct block_builder bb16, bb1;
	const uint8_t *p;
	size_t len1 = 0, len16 = 0;

	(void)state;
	assert_non_null(build_many(&bb16, 16, &len16));
	p = build_many(&bb1, 1, &len1);
	assert_non_null(p);
	assert_int_equal(coding_get_fixed32(p + len1 - 4), N_KEYS);
	/* Every entry a restart: no prefix sharing, so a bigger block. */
	assert_true(len1 > len16);
	check_many(p, len1);
	block_builder_release(&bb16);
	block_builder_release(&bb1);
}

static void test_block_reset_reuses(void **state)
{
	struct block_builder bb;
	size_t len = 0;

	(void)state;
	assert_non_null(build_many(&bb, 16, &len));
	block_builder_reset(&bb);
	assert_int_equal(bb.n, 0);
	assert_int_equal(block_builder_size(&bb), 8);
	block_builder_add(&bb, (const uint8_t *)"zz", 2, NULL, 0);
	/* No sharing with keys from before the reset. */
	assert_int_equal(bb.buf.data[0], 0);
	assert_int_equal(bb.buf.data[1], 2);
	assert_int_equal(block_builder_err(&bb), 0);
	block_builder_release(&bb);
}

/* Expect the iterator to reject data: at init or at some later entry. */
static void expect_bad(const uint8_t *data, size_t len, const char *frag)
{
	struct block_iter it;
	int rc = block_iter_init(&it, data, len);

	while (rc == 0) {
		rc = block_iter_next(&it);
		if (rc == 1)
			rc = 0;
		else if (rc == 0)
			fail_msg("block accepted, expected '%s'", frag);
	}
	assert_int_equal(rc, -EBADMSG);
	assert_non_null(it.why);
	if (!strstr(it.why, frag))
		fail_msg("reason '%s' lacks '%s'", it.why, frag);
	block_iter_release(&it);
}

static void test_block_bad_restart_count(void **state)
{
	struct block_builder bb;
	uint8_t *copy;
	const uint8_t *p;
	size_t len = 0;

	(void)state;
	p = build_many(&bb, 16, &len);
	copy = malloc(len);
	assert_non_null(copy);

	memcpy(copy, p, len);
	coding_put_fixed32(copy + len - 4, 0);
	expect_bad(copy, len, "no restart points");
	coding_put_fixed32(copy + len - 4, 0x40000000u);
	expect_bad(copy, len, "does not fit");
	coding_put_fixed32(copy + len - 4, (uint32_t)(len / 4));
	expect_bad(copy, len, "does not fit");
	/* One fewer: the array starts 4 bytes later, misread as offsets. */
	coding_put_fixed32(copy + len - 4, 2);
	expect_bad(copy, len, "restart");
	expect_bad(copy, 3, "too short");
	free(copy);
	block_builder_release(&bb);
}

static void test_block_bad_restart_offsets(void **state)
{
	struct block_builder bb;
	uint8_t *copy;
	const uint8_t *p;
	size_t len = 0, arr;

	(void)state;
	p = build_many(&bb, 16, &len);
	copy = malloc(len);
	assert_non_null(copy);
	arr = len - 4 - 3 * 4;

	memcpy(copy, p, len);
	coding_put_fixed32(copy + arr, 1);
	expect_bad(copy, len, "first restart point is not 0");

	/* Restart 1 moved into the middle of entry 16. */
	memcpy(copy, p, len);
	coding_put_fixed32(copy + arr + 4, coding_get_fixed32(p + arr + 4) + 1);
	expect_bad(copy, len, "restart point inside an entry");

	/* Two equal restart points. */
	memcpy(copy, p, len);
	coding_put_fixed32(copy + arr + 4, coding_get_fixed32(p + arr + 8));
	coding_put_fixed32(copy + arr + 8, coding_get_fixed32(p + arr + 8));
	expect_bad(copy, len, "bad restart array");

	/* Restart past the entries. */
	memcpy(copy, p, len);
	coding_put_fixed32(copy + arr + 8, (uint32_t)arr);
	expect_bad(copy, len, "bad restart array");
	free(copy);
	block_builder_release(&bb);
}

static void test_block_restart_must_not_share(void **state)
{
	struct block_builder bb;
	struct block_iter it;
	uint8_t *copy;
	const uint8_t *p;
	size_t len = 0, arr, second;

	(void)state;
	p = build_many(&bb, 16, &len);
	/* Find where entry 1 starts, then claim it is a restart point. */
	assert_int_equal(block_iter_init(&it, p, len), 0);
	assert_int_equal(block_iter_next(&it), 1);
	second = it.pos;
	block_iter_release(&it);
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, p, len);
	arr = len - 4 - 3 * 4;
	coding_put_fixed32(copy + arr + 4, (uint32_t)second);
	expect_bad(copy, len, "restart entry shares a prefix");
	free(copy);
	block_builder_release(&bb);
}

static void test_block_bad_entries(void **state)
{
	/* Entry area [80]: a varint that never ends. */
	static const uint8_t trunc[] = { 0x80, 0, 0, 0, 0, 1, 0, 0, 0 };
	/* Non-shared length 5, but 1 key byte before the restarts. */
	static const uint8_t past[] = { 0x00, 0x05, 0x00, 'a', 0, 0, 0, 0, 1, 0, 0, 0 };
	/* Value length past the end. */
	static const uint8_t vpast[] = { 0x00, 0x01, 0x09, 'a', 'b', 0, 0, 0, 0, 1, 0, 0, 0 };
	/* Entry 1 claims 3 shared bytes of a 1-byte key. */
	static const uint8_t shared[] = { 0x00, 0x01, 0x00, 'a', 0x03, 0x01, 0x00, 'b',
					  0,    0,    0,    0,   1,    0,    0,    0 };
	/* The first entry cannot share anything either. */
	static const uint8_t first[] = { 0x01, 0x01, 0x00, 'a', 0, 0, 0, 0, 1, 0, 0, 0 };

	(void)state;
	expect_bad(trunc, sizeof(trunc), "truncated varint");
	expect_bad(past, sizeof(past), "past the end of the block");
	expect_bad(vpast, sizeof(vpast), "past the end of the block");
	expect_bad(shared, sizeof(shared), "longer than previous key");
	expect_bad(first, sizeof(first), "restart entry shares a prefix");
}

static void test_block_unsorted_is_caller_business(void **state)
{
	/* The block layer takes any order: the table layer judges it. */
	struct block_builder bb;
	struct block_iter it;
	const uint8_t *p;
	size_t len = 0;

	(void)state;
	block_builder_init(&bb, 16);
	block_builder_add(&bb, (const uint8_t *)"b", 1, NULL, 0);
	block_builder_add(&bb, (const uint8_t *)"a", 1, NULL, 0);
	block_builder_add(&bb, (const uint8_t *)"a", 1, NULL, 0);
	p = block_builder_finish(&bb, &len);
	assert_int_equal(block_iter_init(&it, p, len), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(block_iter_next(&it), 1);
	assert_int_equal(it.key.data[0], 'a');
	assert_int_equal(block_iter_next(&it), 0);
	block_iter_release(&it);
	block_builder_release(&bb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_empty),
		cmocka_unit_test(test_block_one_key),
		cmocka_unit_test(test_block_prefix_bytes),
		cmocka_unit_test(test_block_interval_16),
		cmocka_unit_test(test_block_interval_1),
		cmocka_unit_test(test_block_reset_reuses),
		cmocka_unit_test(test_block_bad_restart_count),
		cmocka_unit_test(test_block_bad_restart_offsets),
		cmocka_unit_test(test_block_restart_must_not_share),
		cmocka_unit_test(test_block_bad_entries),
		cmocka_unit_test(test_block_unsorted_is_caller_business),
	};

	return cmocka_run_group_tests_name("bundle_block", tests, NULL, NULL);
}
