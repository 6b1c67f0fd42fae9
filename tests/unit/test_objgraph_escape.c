/*
 * test_objgraph_escape.c - the escaping of local names in object paths
 * ('.' <-> "..", '/' <-> ".S", TensorFlow's escape_local_name): what names
 * become, that every name comes back from its escaped form, and which
 * components name nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "objgraph/objgraph.h"

/* name escapes to want, through each of the three functions. */
static void expect(const char *name, const char *want)
{
	char buf[64], *s = objgraph_escape(name);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
	assert_int_equal(objgraph_escaped_len(name), strlen(want));
	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(objgraph_escape_into(buf, name), buf + strlen(want));
	assert_memory_equal(buf, want, strlen(want));
	assert_int_equal(buf[strlen(want)], 'x'); /* no NUL written */
}

static void test_escape_names(void **state)
{
	(void)state;
	expect("", "");
	expect("kernel", "kernel");
	expect("layer_with_weights-0", "layer_with_weights-0");
	expect("a/b.c", "a.Sb..c");
	expect(".", "..");
	expect("/", ".S");
	expect("..//", ".....S.S");
	expect(".ATTRIBUTES", "..ATTRIBUTES");
	expect("S.S", "S..S");
	expect("名前/😀", "名前.S😀");
}

/* name, escaped, unescapes to itself. */
static void round_trip(const char *name)
{
	char *esc = objgraph_escape(name), *back = NULL;

	assert_non_null(esc);
	assert_int_equal(objgraph_unescape(esc, strlen(esc), &back), 0);
	assert_string_equal(back, name);
	free(back);
	free(esc);
}

static void test_unescape_round_trips(void **state)
{
	static const char *const names[] = { "",     "kernel", "a/b.c", ".",    "/",
					     "..//", ".S",     "S.",    "x..y", "..S" };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		round_trip(names[i]);
}

static void test_unescape_reads_only_len_bytes(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(objgraph_unescape("a..bc/d", 4, &out), 0);
	assert_string_equal(out, "a.b");
	free(out);
}

static void test_unescape_refuses_what_no_name_escapes_to(void **state)
{
	static const char *const bad[] = { ".", "a.", ".x", "a.b", "...", "..S.T" };
	char *out = (char *)"untouched";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(objgraph_unescape(bad[i], strlen(bad[i]), &out), -EINVAL);
	assert_string_equal(out, "untouched");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_names),
		cmocka_unit_test(test_unescape_round_trips),
		cmocka_unit_test(test_unescape_reads_only_len_bytes),
		cmocka_unit_test(test_unescape_refuses_what_no_name_escapes_to),
	};

	return cmocka_run_group_tests_name("objgraph_escape", tests, NULL, NULL);
}
