/*
 * test_cli_json.c - cli_json_string(), the strings of `ls --json` and
 * `check --json`: UTF-8 names pass through, JSON's own escapes for '"',
 * '\' and control characters (C0, DEL, C1 too, so no byte can act on a
 * terminal), and each byte that is not UTF-8 as \udcXX, Python's
 * surrogateescape; and that Python's json module reads the bytes back is
 * tested by tests/integration/test_wheel.py.
 */
#define _GNU_SOURCE /* open_memstream */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* cli_json_string of the n bytes of s must be want. */
static void expect_len(const char *s, size_t n, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	cli_json_string(f, s, n);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(out, want);
	free(out);
}

static void expect(const char *s, const char *want) { expect_len(s, strlen(s), want); }

static void test_json_utf8_names_unchanged(void **state)
{
	(void)state;
	expect("dense/kernel", "\"dense/kernel\"");
	expect("", "\"\"");
	expect("Ünïcödé/名前/😀", "\"Ünïcödé/名前/😀\"");
	expect("a b-c.d:0 ~", "\"a b-c.d:0 ~\"");
}

static void test_json_own_escapes(void **state)
{
	(void)state;
	expect("say \"hi\"", "\"say \\\"hi\\\"\"");
	expect("a\\b", "\"a\\\\b\"");
	expect("l1\nl2\tx\ry", "\"l1\\nl2\\tx\\ry\"");
	expect("\x01\x1b]0;title\x07", "\"\\u0001\\u001b]0;title\\u0007\"");
	expect("del\x7f", "\"del\\u007f\"");
	expect_len("nul\0after", 9, "\"nul\\u0000after\"");
}

static void test_json_c1_controls_escaped(void **state)
{
	(void)state;
	/* U+0085 NEL and U+009B CSI as UTF-8; U+00A0 is text */
	expect("a\xc2\x85"
	       "b\xc2\x9b"
	       "c\xc2\xa0",
	       "\"a\\u0085b\\u009bc\xc2\xa0\"");
}

static void test_json_bytes_not_utf8_are_surrogates(void **state)
{
	(void)state;
	expect("\xff", "\"\\udcff\"");
	expect("odd/\xff\xfe", "\"odd/\\udcff\\udcfe\"");
	/* a cut sequence: each byte on its own, the rest stays text */
	expect("\xe6\x97"
	       "x",
	       "\"\\udce6\\udc97x\"");
	/* overlong '/', and an encoded surrogate U+D800: not UTF-8 */
	expect("\xc0\xaf", "\"\\udcc0\\udcaf\"");
	expect("\xed\xa0\x80", "\"\\udced\\udca0\\udc80\"");
	/* a lone continuation byte, then valid text */
	expect("\x80名", "\"\\udc80名\"");
}

static void test_json_text_null(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	cli_json_text(f, NULL);
	fputc(' ', f);
	cli_json_text(f, "x\"");
	assert_int_equal(fclose(f), 0);
	assert_string_equal(out, "null \"x\\\"\"");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_utf8_names_unchanged),
		cmocka_unit_test(test_json_own_escapes),
		cmocka_unit_test(test_json_c1_controls_escaped),
		cmocka_unit_test(test_json_bytes_not_utf8_are_surrogates),
		cmocka_unit_test(test_json_text_null),
	};

	return cmocka_run_group_tests_name("cli_json", tests, NULL, NULL);
}
