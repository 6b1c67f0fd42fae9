/*
 * test_bundle_coding.c - fixed-width ints, varints and bytebuf
 * (bundle/coding.h): round trips at every 7-bit boundary, truncated and
 * overlong inputs, and the bytebuf's sticky allocation error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/coding.h"

/* Bytes a varint of v takes: one per started group of 7 bits. */
static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Encode, decode, and check that every shorter prefix is "truncated". */
static void roundtrip64(uint64_t v)
{
	uint8_t buf[CODING_MAX_VARINT64 + 1];
	const size_t n = coding_put_varint64(buf, v);
	uint64_t got = 0;

	assert_int_equal(n, varint_len(v));
	assert_ptr_equal(coding_get_varint64(buf, buf + n, &got), buf + n);
	assert_true(got == v);
	for (size_t cut = 0; cut < n; cut++) {
		got = 42;
		assert_null(coding_get_varint64(buf, buf + cut, &got));
		assert_true(got == 42); /* untouched on failure */
	}
}

static void roundtrip32(uint32_t v)
{
	uint8_t buf[CODING_MAX_VARINT32 + 1];
	const size_t n = coding_put_varint32(buf, v);
	uint32_t got = 0;

	assert_int_equal(n, varint_len(v));
	assert_ptr_equal(coding_get_varint32(buf, buf + n, &got), buf + n);
	assert_true(got == v);
	for (size_t cut = 0; cut < n; cut++) {
		got = 42;
		assert_null(coding_get_varint32(buf, buf + cut, &got));
		assert_true(got == 42);
	}
	/* Any varint32 must also read back as a varint64. */
	roundtrip64(v);
}

static void test_varint32_boundaries(void **state)
{
	(void)state;
	roundtrip32(0);
	roundtrip32(1);
	for (int k = 7; k < 32; k += 7) {
		roundtrip32((UINT32_C(1) << k) - 1);
		roundtrip32(UINT32_C(1) << k);
		roundtrip32((UINT32_C(1) << k) + 1);
	}
	roundtrip32(UINT32_MAX - 1);
	roundtrip32(UINT32_MAX);
}

static void test_varint64_boundaries(void **state)
{
	(void)state;
	roundtrip64(0);
	for (int k = 7; k < 64; k += 7) {
		roundtrip64((UINT64_C(1) << k) - 1);
		roundtrip64(UINT64_C(1) << k);
		roundtrip64((UINT64_C(1) << k) + 1);
	}
	roundtrip64(UINT64_C(1) << 63);
	roundtrip64(UINT64_MAX - 1);
	roundtrip64(UINT64_MAX);
}

static void test_varint_known_bytes(void **state)
{
	static const uint8_t v300[] = { 0xac, 0x02 };
	static const uint8_t max32[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	static const uint8_t max64[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
	};
	uint8_t buf[CODING_MAX_VARINT64];
	uint32_t v32;
	uint64_t v64;

	(void)state;
	assert_int_equal(coding_put_varint32(buf, 300), 2);
	assert_memory_equal(buf, v300, sizeof(v300));
	assert_int_equal(coding_put_varint32(buf, UINT32_MAX), 5);
	assert_memory_equal(buf, max32, sizeof(max32));
	assert_int_equal(coding_put_varint64(buf, UINT64_MAX), 10);
	assert_memory_equal(buf, max64, sizeof(max64));
	assert_non_null(coding_get_varint32(max32, max32 + 5, &v32));
	assert_true(v32 == UINT32_MAX);
	assert_non_null(coding_get_varint64(max64, max64 + 10, &v64));
	assert_true(v64 == UINT64_MAX);
}

static void test_varint_overlong_rejected(void **state)
{
	/* 6 bytes for a varint32, 11 for a varint64: never from a writer. */
	static const uint8_t six[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x80, 0x00 };
	/* Right length, but bits beyond the type's width. */
	static const uint8_t wide32[] = { 0xff, 0xff, 0xff, 0xff, 0x10 };
	static const uint8_t wide64[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02
	};
	uint32_t v32 = 7;
	uint64_t v64 = 7;

	(void)state;
	assert_null(coding_get_varint32(six, six + sizeof(six), &v32));
	assert_null(coding_get_varint64(eleven, eleven + sizeof(eleven), &v64));
	assert_null(coding_get_varint32(wide32, wide32 + sizeof(wide32), &v32));
	assert_null(coding_get_varint64(wide64, wide64 + sizeof(wide64), &v64));
	/* A 6-byte varint is fine as a varint64. */
	assert_ptr_equal(coding_get_varint64(six, six + sizeof(six), &v64), six + sizeof(six));
	assert_true(v64 == 0);
	assert_true(v32 == 7);
}

static void test_varint_stops_at_limit(void **state)
{
	/* The decoder must not read past limit even if more bytes follow. */
	static const uint8_t two[] = { 0x81, 0x01, 0x05 };
	uint32_t v = 0;

	(void)state;
	assert_null(coding_get_varint32(two, two + 1, &v));
	assert_ptr_equal(coding_get_varint32(two, two + 3, &v), two + 2);
	assert_int_equal(v, 129);
	assert_null(coding_get_varint32(two, two, &v));
}

static void test_fixed(void **state)
{
	static const uint8_t le32[] = { 0x44, 0x33, 0x22, 0x11 };
	static const uint8_t le64[] = { 0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb };
	uint8_t buf[8];

	(void)state;
	coding_put_fixed32(buf, 0x11223344u);
	assert_memory_equal(buf, le32, 4);
	assert_int_equal(coding_get_fixed32(le32), 0x11223344u);
	coding_put_fixed64(buf, 0xdb4775248b80fb57ull);
	assert_memory_equal(buf, le64, 8);
	assert_true(coding_get_fixed64(le64) == 0xdb4775248b80fb57ull);
	coding_put_fixed32(buf, UINT32_MAX);
	assert_int_equal(coding_get_fixed32(buf), UINT32_MAX);
	coding_put_fixed64(buf, UINT64_MAX);
	assert_true(coding_get_fixed64(buf) == UINT64_MAX);
}

static void test_bytebuf_grows(void **state)
{
	static const uint8_t expect[] = { 0x44, 0x33, 0x22, 0x11, 0xac, 0x02, 0x80, 0x80, 0x01 };
	struct bytebuf b = { 0 };
	uint8_t *p;
	size_t len = 0;

	(void)state;
	bytebuf_put_fixed32(&b, 0x11223344u);
	bytebuf_put_varint32(&b, 300);
	bytebuf_put_varint64(&b, 1 << 14);
	assert_int_equal(b.len, sizeof(expect));
	assert_memory_equal(b.data, expect, sizeof(expect));
	/* Many small appends cross several reallocations intact. */
	for (int i = 0; i < 10000; i++) {
		const uint8_t c = (uint8_t)i;

		bytebuf_append(&b, &c, 1);
	}
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, sizeof(expect) + 10000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(b.data[sizeof(expect) + i], (uint8_t)i);
	p = bytebuf_detach(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, sizeof(expect) + 10000);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);
}

static void test_bytebuf_empty_and_sticky(void **state)
{
	struct bytebuf b = { 0 };
	uint8_t *p;
	size_t len = 99;

	(void)state;
	/* Empty is not an error: detach still returns memory. */
	p = bytebuf_detach(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	free(p);

	bytebuf_append(&b, "abc", 3);
	b.err = -ENOMEM; /* as if a realloc had failed */
	bytebuf_append(&b, "def", 3);
	bytebuf_put_varint64(&b, 1);
	assert_int_equal(b.len, 3);
	len = 99;
	assert_null(bytebuf_detach(&b, &len));
	assert_int_equal(len, 99);
	assert_null(b.data);
	assert_int_equal(b.err, 0);

	bytebuf_append(&b, "x", 1);
	bytebuf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint32_boundaries),
		cmocka_unit_test(test_varint64_boundaries),
		cmocka_unit_test(test_varint_known_bytes),
		cmocka_unit_test(test_varint_overlong_rejected),
		cmocka_unit_test(test_varint_stops_at_limit),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_bytebuf_grows),
		cmocka_unit_test(test_bytebuf_empty_and_sticky),
	};

	return cmocka_run_group_tests_name("bundle_coding", tests, NULL, NULL);
}
