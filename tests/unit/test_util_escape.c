/*
 * test_util_escape.c - util_escape(): what untrusted bytes look like when
 * ckptfs shows them (control characters, C1, broken UTF-8, backslashes),
 * that ordinary names pass through byte-identical, and how a short buffer
 * cuts between characters with "..."; and util_utf8_len's edge cases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/util.h"

/* Escape the n bytes of s into a 256-byte buffer; must equal want. */
static void expect_len(const char *s, size_t n, unsigned flags, const char *want)
{
	char buf[256];

	assert_ptr_equal(util_escape(buf, sizeof(buf), s, n, flags), buf);
	assert_string_equal(buf, want);
	assert_int_equal(util_escaped_len(s, n, flags), strlen(want));
}

static void expect(const char *s, unsigned flags, const char *want)
{
	expect_len(s, strlen(s), flags, want);
}

static void test_escape_ordinary_names_unchanged(void **state)
{
	static const char *const names[] = {
		"dense/kernel",
		"model/layer_1/.ATTRIBUTES/VARIABLE_VALUE",
		"_CHECKPOINTABLE_OBJECT_GRAPH",
		"Ünïcödé/名前/😀",
		"a b-c.d:0",
		"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		expect(names[i], UTIL_ESCAPE_BACKSLASH, names[i]);
		assert_int_equal(util_escaped_len(names[i], strlen(names[i]), 0), strlen(names[i]));
	}
}

static void test_escape_control_characters(void **state)
{
	(void)state;
	expect("a\nb\tc\rd", 0, "a\\nb\\tc\\rd");
	/* a terminal title sequence loses its ESC and BEL */
	expect("x\x1b]0;pwned\x07y", 0, "x\\x1b]0;pwned\\x07y");
	expect("\x7f\x01", 0, "\\x7f\\x01");
	expect_len("a\0b", 3, 0, "a\\x00b");
	/* C1 controls, as UTF-8: CSI (U+009B) and NEL (U+0085) */
	expect("[\xc2\x9b"
	       "2J]",
	       0, "[\\xc2\\x9b2J]");
	expect("\xc2\x85", 0, "\\xc2\\x85");
	/* U+00A0 is the first character after C1: kept */
	expect("\xc2\xa0", 0, "\xc2\xa0");
}

static void test_escape_broken_utf8(void **state)
{
	(void)state;
	expect("a\xff"
	       "b",
	       0, "a\\xffb");
	/* a cut sequence, an overlong '/', a surrogate: byte by byte */
	expect("\xe2\x82", 0, "\\xe2\\x82");
	expect("\xc0\xaf", 0, "\\xc0\\xaf");
	expect("\xed\xa0\x80", 0, "\\xed\\xa0\\x80");
}

static void test_escape_backslash_only_when_asked(void **state)
{
	(void)state;
	expect("a\\b", 0, "a\\b");
	expect("a\\b", UTIL_ESCAPE_BACKSLASH, "a\\\\b");
	/* so an escaped name cannot pass for another one */
	expect("\\n", UTIL_ESCAPE_BACKSLASH, "\\\\n");
	expect("\n", UTIL_ESCAPE_BACKSLASH, "\\n");
}

static void test_escape_cuts_between_characters(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(util_escape(buf, sizeof(buf), "abcdefg", 7, 0), "abcdefg");
	assert_string_equal(util_escape(buf, sizeof(buf), "abcdefgh", 8, 0), "abcd...");
	/* never half an escape or half a UTF-8 character */
	assert_string_equal(util_escape(buf, sizeof(buf), "abc\ndefgh", 9, 0), "abc...");
	assert_string_equal(util_escape(buf, sizeof(buf), "ab\xc3\xa9\xc3\xa9xyz", 9, 0),
			    "ab\xc3\xa9...");
	assert_string_equal(util_escape(buf, sizeof(buf), "ab\xe2\x82\xac\xe2\x82\xac", 8, 0),
			    "ab...");
	/* too small for "...": just cut */
	assert_string_equal(util_escape(buf, 4, "abcdef", 6, 0), "abc");
	assert_string_equal(util_escape(buf, 1, "abcdef", 6, 0), "");
	buf[0] = 'x';
	assert_ptr_equal(util_escape(buf, 0, "abc", 3, 0), buf);
	assert_int_equal(buf[0], 'x');
}

static void test_utf8_len(void **state)
{
	(void)state;
	assert_int_equal(util_utf8_len("a", 1), 1);
	assert_int_equal(util_utf8_len("", 0), 0);
	assert_int_equal(util_utf8_len("\xc3\xa9", 2), 2);
	assert_int_equal(util_utf8_len("\xc3\xa9", 1), 0);
	assert_int_equal(util_utf8_len("\xe2\x82\xac", 3), 3);
	assert_int_equal(util_utf8_len("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(util_utf8_len("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
	assert_int_equal(util_utf8_len("\xe0\x80\xaf", 3), 0);     /* overlong */
	assert_int_equal(util_utf8_len("\x80", 1), 0);
	assert_true(util_is_utf8("model.ckpt", 10));
	assert_true(util_is_utf8("\xc3\xa9t\xc3\xa9", 6));
	assert_false(util_is_utf8("caf\xe9", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_ordinary_names_unchanged),
		cmocka_unit_test(test_escape_control_characters),
		cmocka_unit_test(test_escape_broken_utf8),
		cmocka_unit_test(test_escape_backslash_only_when_asked),
		cmocka_unit_test(test_escape_cuts_between_characters),
		cmocka_unit_test(test_utf8_len),
	};

	return cmocka_run_group_tests_name("util_escape", tests, NULL, NULL);
}
