/*
 * test_mapping_lexer.c - the mapping lexer: words, columns, quoting,
 * comments, line endings and the UTF-8 text checks, with exact messages.
 *
 * Each input is lexed whole and rendered one line per source line as
 * "LINE: COL[word] COLq[quoted word] ...", so a test is one string compare.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/lexer.h"

#define OUT_SIZE 8192

/* Lex buf into out (rendered as above); returns 0 or the lexer's error. */
static int lex_len(const char *buf, size_t len, char *out, char *err, size_t errlen)
{
	struct mapping_line l = MAPPING_LINE_INIT;
	struct mapping_lexer lx;
	size_t used = 0, i;
	int rc;

	out[0] = '\0';
	err[0] = '\0';
	mapping_lexer_init(&lx, "t.conf", buf, len);
	while ((rc = mapping_lexer_next(&lx, &l, err, errlen)) > 0) {
		used += snprintf(out + used, OUT_SIZE - used, "%d:", l.line);
		for (i = 0; i < l.n; i++) {
			assert_int_equal(strlen(l.tok[i].text), l.tok[i].len);
			used += snprintf(out + used, OUT_SIZE - used, " %d%s[%s]", l.tok[i].col,
					 l.tok[i].quoted ? "q" : "", l.tok[i].text);
		}
		used += snprintf(out + used, OUT_SIZE - used, "\n");
		assert_true(used < OUT_SIZE);
	}
	mapping_line_release(&l);
	return rc;
}

static void expect_words(const char *in, const char *want)
{
	char out[OUT_SIZE], err[256];

	assert_int_equal(lex_len(in, strlen(in), out, err, sizeof(err)), 0);
	assert_string_equal(out, want);
}

static void expect_error_len(const char *in, size_t len, const char *want)
{
	char out[OUT_SIZE], err[256];

	assert_int_equal(lex_len(in, len, out, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
}

static void expect_error(const char *in, const char *want)
{
	expect_error_len(in, strlen(in), want);
}

static void test_lexer_words_and_columns(void **state)
{
	(void)state;
	expect_words("source a = models/a\n", "1: 1[source] 8[a] 10[=] 12[models/a]\n");
	expect_words("map b:encoder/ -> student/encoder/\n",
		     "1: 1[map] 5[b:encoder/] 16[->] 19[student/encoder/]\n");
	/* A tab is one column, like any other character. */
	expect_words("\t map  a:x\t->   y  \n", "1: 3[map] 8[a:x] 12[->] 17[y]\n");
}

static void test_lexer_skips_blank_and_comment_lines(void **state)
{
	(void)state;
	expect_words("", "");
	expect_words("\n\n\n", "");
	expect_words("# only a comment", "");
	expect_words("\n   \n\t# indented comment\nmap a:x -> y # why\n\n",
		     "4: 1[map] 5[a:x] 9[->] 12[y]\n");
	expect_words("a\n\nb\n# c\nd\n", "1: 1[a]\n3: 1[b]\n5: 1[d]\n");
}

static void test_lexer_comment_ends_a_word(void **state)
{
	(void)state;
	expect_words("a#b c\n", "1: 1[a]\n");
	expect_words("exclude t:x# not part of the glob\n", "1: 1[exclude] 9[t:x]\n");
	expect_words("a \"#b\" c # d\n", "1: 1[a] 3q[#b] 8[c]\n");
}

static void test_lexer_quoted_words(void **state)
{
	(void)state;
	expect_words("source a = \"my models/a\"\n", "1: 1[source] 8[a] 10[=] 12q[my models/a]\n");
	expect_words("\"\" x\n", "1: 1q[] 4[x]\n");
	expect_words("\"say \\\"hi\\\"\" \"back\\\\slash\"\n",
		     "1: 1q[say \"hi\"] 14q[back\\slash]\n");
	expect_words("\"\\\\\"\n", "1: 1q[\\]\n");
	/* Only a word that starts with '"' is quoted. */
	expect_words("a\"b c\"\n", "1: 1[a\"b] 5[c\"]\n");
	/* A closing quote may be followed by a comment. */
	expect_words("\"a\"# c\n", "1: 1q[a]\n");
	expect_words("\"a\"\t\"b\"\n", "1: 1q[a] 5q[b]\n");
	/* Quoted punctuation is a word: the parser can tell. */
	expect_words("\"->\" ->\n", "1: 1q[->] 6[->]\n");
}

static void test_lexer_crlf_line_endings(void **state)
{
	(void)state;
	expect_words("source a = x\r\nmap a:b -> c\r\n", "1: 1[source] 8[a] 10[=] 12[x]\n"
							 "2: 1[map] 5[a:b] 9[->] 12[c]\n");
	expect_words("a  \r\n\r\n# c\r\n\"q \" \r\nz\r", "1: 1[a]\n4: 1q[q ]\n5: 1[z]\n");
}

static void test_lexer_missing_trailing_newline(void **state)
{
	(void)state;
	expect_words("a b", "1: 1[a] 3[b]\n");
	expect_words("a\nb c", "1: 1[a]\n2: 1[b] 3[c]\n");
	expect_words("a\n# c", "1: 1[a]\n");
	expect_words("\"x y\"", "1: 1q[x y]\n");
}

static void test_lexer_columns_count_characters(void **state)
{
	(void)state;
	expect_words("\xc3\xa9 x\n", "1: 1[\xc3\xa9] 3[x]\n");
	expect_words("\xe6\x97\xa5\xe6\x9c\xac x\n", "1: 1[\xe6\x97\xa5\xe6\x9c\xac] 4[x]\n");
	expect_words("\"\xf0\x9f\x98\x80\" x\n", "1: 1q[\xf0\x9f\x98\x80] 5[x]\n");
	/* The largest code points of each length are fine. */
	expect_words("\xdf\xbf \xef\xbf\xbf \xf4\x8f\xbf\xbf\n",
		     "1: 1[\xdf\xbf] 3[\xef\xbf\xbf] 5[\xf4\x8f\xbf\xbf]\n");
}

static void test_lexer_skips_byte_order_mark(void **state)
{
	(void)state;
	expect_words("\xef\xbb\xbfsource a\n", "1: 1[source] 8[a]\n");
	/* Elsewhere U+FEFF is just a character. */
	expect_words("a \xef\xbb\xbf\n", "1: 1[a] 3[\xef\xbb\xbf]\n");
}

static void test_lexer_long_lines(void **state)
{
	char *in = malloc(1001), *want = malloc(OUT_SIZE);
	char out[OUT_SIZE], err[256];
	size_t i, used;

	(void)state;
	assert_non_null(in);
	assert_non_null(want);
	/* A short line first, so the buffers must grow for the second. */
	memcpy(in, "a\n", 2);
	for (i = 2; i < 1000; i += 2)
		memcpy(in + i, "w ", 2);
	in[1000] = '\0';
	used = (size_t)snprintf(want, OUT_SIZE, "1: 1[a]\n2:");
	for (i = 0; i < 499; i++)
		used += (size_t)snprintf(want + used, OUT_SIZE - used, " %zu[w]", 2 * i + 1);
	snprintf(want + used, OUT_SIZE - used, "\n");
	assert_int_equal(lex_len(in, 1000, out, err, sizeof(err)), 0);
	assert_string_equal(out, want);
	free(in);
	free(want);
}

static void test_lexer_quote_errors(void **state)
{
	(void)state;
	expect_error("map \"abc\n",
		     "t.conf:1:5: error: unterminated quoted word (missing closing '\"')");
	expect_error("a\n  \"abc\\\"\n",
		     "t.conf:2:3: error: unterminated quoted word (missing closing '\"')");
	expect_error("\"abc\\",
		     "t.conf:1:1: error: unterminated quoted word (missing closing '\"')");
	expect_error(
		"x \"a\\nb\"\n",
		"t.conf:1:5: error: unknown escape '\\n' in quoted word (write '\\\\' for a backslash)");
	expect_error(
		"\"\\\xc3\xa9\"\n",
		"t.conf:1:2: error: unknown escape '\\\xc3\xa9' in quoted word (write '\\\\' for a backslash)");
	expect_error(
		"\"a\"b\n",
		"t.conf:1:4: error: unexpected 'b' after closing quote (separate words with blanks)");
	expect_error(
		"\"\xc3\xa9\"\"\n",
		"t.conf:1:4: error: unexpected '\"' after closing quote (separate words with blanks)");
}

static void test_lexer_utf8_errors(void **state)
{
	(void)state;
	expect_error("ab \xff\n",
		     "t.conf:1:4: error: invalid UTF-8 byte 0xff (the mapping file must be UTF-8)");
	/* A lone continuation byte, after a 2-byte character. */
	expect_error("\xc3\xa9\x80\n",
		     "t.conf:1:2: error: invalid UTF-8 byte 0x80 (the mapping file must be UTF-8)");
	/* Overlong '/', a UTF-16 surrogate, beyond U+10FFFF. */
	expect_error("a:\xc0\xaf\n",
		     "t.conf:1:3: error: invalid UTF-8 byte 0xc0 (the mapping file must be UTF-8)");
	expect_error(
		"\xe0\x80\xaf\n",
		"t.conf:1:1: error: invalid UTF-8 sequence 0xe0 0x80 0xaf, an overlong encoding (the mapping file must be UTF-8)");
	expect_error(
		"\xed\xa0\x80\n",
		"t.conf:1:1: error: invalid UTF-8 sequence 0xed 0xa0 0x80, an encoded UTF-16 surrogate (the mapping file must be UTF-8)");
	expect_error(
		"\xf4\x90\x80\x80\n",
		"t.conf:1:1: error: invalid UTF-8 sequence 0xf4 0x90 0x80 0x80, past U+10FFFF (the mapping file must be UTF-8)");
	/* Cut short by the end of the line, and inside a comment. */
	expect_error(
		"ok\na\xe6\x97\n",
		"t.conf:2:2: error: invalid UTF-8 sequence 0xe6 0x97, cut short (the mapping file must be UTF-8)");
	expect_error(
		"a # \xe9t\xe9\n",
		"t.conf:1:5: error: invalid UTF-8 sequence 0xe9 0x74 (the mapping file must be UTF-8)");
	/* An encoding error is reported even after a quoting error. */
	expect_error("\"abc \xff\n",
		     "t.conf:1:6: error: invalid UTF-8 byte 0xff (the mapping file must be UTF-8)");
}

static void test_lexer_control_character_errors(void **state)
{
	(void)state;
	expect_error_len(
		"a\0b\n", 4,
		"t.conf:1:2: error: unexpected NUL byte (the mapping file must be UTF-8 text)");
	expect_error_len(
		"ok\n\0", 4,
		"t.conf:2:1: error: unexpected NUL byte (the mapping file must be UTF-8 text)");
	expect_error("a\x01\n", "t.conf:1:2: error: unexpected control character 0x01");
	expect_error("\"a\x7f\"\n", "t.conf:1:3: error: unexpected control character 0x7f");
	expect_error(
		"a\rb\n",
		"t.conf:1:2: error: unexpected carriage return (lines must end in LF or CRLF)");
	expect_error(
		"a\r\r\n",
		"t.conf:1:2: error: unexpected carriage return (lines must end in LF or CRLF)");
}

static void test_lexer_error_without_buffer(void **state)
{
	struct mapping_line l = MAPPING_LINE_INIT;
	struct mapping_lexer lx;

	(void)state;
	mapping_lexer_init(&lx, "t.conf", "\"x", 2);
	assert_int_equal(mapping_lexer_next(&lx, &l, NULL, 0), -EINVAL);
	mapping_line_release(&l);
	mapping_line_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lexer_words_and_columns),
		cmocka_unit_test(test_lexer_skips_blank_and_comment_lines),
		cmocka_unit_test(test_lexer_comment_ends_a_word),
		cmocka_unit_test(test_lexer_quoted_words),
		cmocka_unit_test(test_lexer_crlf_line_endings),
		cmocka_unit_test(test_lexer_missing_trailing_newline),
		cmocka_unit_test(test_lexer_columns_count_characters),
		cmocka_unit_test(test_lexer_skips_byte_order_mark),
		cmocka_unit_test(test_lexer_long_lines),
		cmocka_unit_test(test_lexer_quote_errors),
		cmocka_unit_test(test_lexer_utf8_errors),
		cmocka_unit_test(test_lexer_control_character_errors),
		cmocka_unit_test(test_lexer_error_without_buffer),
	};

	return cmocka_run_group_tests_name("mapping_lexer", tests, NULL, NULL);
}
