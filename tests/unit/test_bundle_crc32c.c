/*
 * test_bundle_crc32c.c - CRC32C, TF's mask/unmask and the O(log n)
 * zero-run crc and the join of two crcs, against the vectors of docs/checkpoint-format.md §9.1 and
 * against real zero buffers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "util/util.h"

static void test_crc_vectors(void **state)
{
	uint8_t buf[32];

	(void)state;
	assert_int_equal(bundle_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(bundle_crc32c(0, "", 0), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(bundle_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(bundle_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(bundle_crc32c(0, buf, 32), 0x46DD794Eu);
	memset(buf, 0, 4);
	assert_int_equal(bundle_crc32c(0, buf, 4), 0x48674BC7u);
	buf[0] = 0x00, buf[1] = 0x00, buf[2] = 0x80, buf[3] = 0x3f;
	assert_int_equal(bundle_crc32c(0, buf, 4), 0xDD54C4ABu);
}

static void test_crc_continues(void **state)
{
	static const char s[] = "123456789";

	(void)state;
	/* Every split point gives the one-call result (TF's Extend). */
	for (size_t cut = 0; cut <= 9; cut++) {
		const uint32_t a = bundle_crc32c(0, s, cut);

		assert_int_equal(bundle_crc32c(a, s + cut, 9 - cut), 0xE3069283u);
	}
	/* Continuing over nothing changes nothing. */
	assert_int_equal(bundle_crc32c(0xE3069283u, s, 0), 0xE3069283u);
}

static void test_crc_mask(void **state)
{
	static const uint32_t samples[] = {
		0, 1, 0x80000000u, 0xffffffffu, 0xE3069283u, 0x12345678u
	};

	(void)state;
	assert_int_equal(bundle_crc_mask(0xE3069283u), 0xC78AB0E5u);
	assert_int_equal(bundle_crc_mask(0), 0xA282EAD8u);
	assert_int_equal(bundle_crc_mask(0x48674BC7u), 0x3A117BA6u);
	assert_int_equal(bundle_crc_mask(0xDD54C4ABu), 0x2BDAA581u);
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const uint32_t c = samples[i];

		assert_int_equal(bundle_crc_unmask(bundle_crc_mask(c)), c);
		assert_int_not_equal(bundle_crc_mask(c), c);
	}
	assert_int_equal(bundle_crc_unmask(0xC78AB0E5u), 0xE3069283u);
}

static void test_crc_zeros_vs_buffers(void **state)
{
	static const uint64_t sizes[] = { 0,    1,    2,    3,     4,       7,      8,
					  15,   16,   31,   32,    33,      255,    256,
					  4095, 4096, 4097, 65536, 1000003, 1 << 21 };
	const size_t max = 1 << 21;
	uint8_t *zeros = calloc(max, 1);
	const uint32_t seeds[] = { 0, 0xE3069283u, 0xffffffffu, 1 };

	(void)state;
	assert_non_null(zeros);
	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			const uint32_t want = bundle_crc32c(seeds[s], zeros, (size_t)sizes[i]);

			assert_int_equal(util_crc32c_zeros(seeds[s], sizes[i]), want);
		}
	}
	assert_int_equal(util_crc32c_zeros(0, 32), 0x8A9136AAu);
	free(zeros);
}

static void test_crc_zeros_composes(void **state)
{
	/*
	 * Sizes too big for a buffer: n zeros then m zeros must equal n + m
	 * zeros, and data after a hole must continue from the hole's crc.
	 */
	const uint64_t tib = UINT64_C(1) << 40;
	const uint32_t a = util_crc32c_zeros(0, tib);
	const uint32_t b = util_crc32c_zeros(a, tib + 12345);
	uint8_t tail[5] = { 0, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(b, util_crc32c_zeros(0, 2 * tib + 12345));
	assert_int_equal(bundle_crc32c(a, tail, sizeof(tail)),
			 util_crc32c_zeros(0, tib + sizeof(tail)));
	assert_int_equal(util_crc32c_zeros(0x1234u, 0), 0x1234u);
	/* The largest n is fine too (just 64 rounds). */
	assert_int_equal(util_crc32c_zeros(util_crc32c_zeros(0, UINT64_MAX), 1),
			 util_crc32c_zeros(util_crc32c_zeros(0, 1), UINT64_MAX));
}

/* crc(A || B) from crc(A), crc(B) and |B|, for every split of a buffer
 * (the parts of a tensor fetched in parallel, joined). */
static void test_crc_combine(void **state)
{
	uint8_t buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t cut = 0; cut <= sizeof(buf); cut++) {
		uint32_t a = util_crc32c(0, buf, cut);
		uint32_t b = util_crc32c(0, buf + cut, sizeof(buf) - cut);

		assert_int_equal(util_crc32c_combine(a, b, sizeof(buf) - cut),
				 util_crc32c(0, buf, sizeof(buf)));
	}
	/* three parts, joined left to right */
	assert_int_equal(util_crc32c_combine(util_crc32c_combine(util_crc32c(0, buf, 10),
								 util_crc32c(0, buf + 10, 90), 90),
					     util_crc32c(0, buf + 100, 200), 200),
			 util_crc32c(0, buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vectors),
		cmocka_unit_test(test_crc_continues),
		cmocka_unit_test(test_crc_mask),
		cmocka_unit_test(test_crc_zeros_vs_buffers),
		cmocka_unit_test(test_crc_zeros_composes),
		cmocka_unit_test(test_crc_combine),
	};

	return cmocka_run_group_tests_name("bundle_crc32c", tests, NULL, NULL);
}
