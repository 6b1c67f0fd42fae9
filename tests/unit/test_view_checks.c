/*
 * test_view_checks.c - what view_build refuses so that a mount, `ckptfs
 * check`, `ls` and `materialize` all agree, with the exact message: a
 * prefix TensorFlow cannot find (glob characters, a backslash, not
 * UTF-8), file names longer than NAME_MAX, a tensor that is not a string
 * scalar under TF2's object-graph name; and that every message quoting a
 * tensor name shows it escaped (a name cannot act on the terminal).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "view/view.h"
#include "mapping/mapping.h"
#include "tests/unit/testutil.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OBJECT_GRAPH "_CHECKPOINTABLE_OBJECT_GRAPH"
/* ".data-00000-of-00001": the longest suffix of a small merge's files */
#define DATA_SUFFIX_LEN 20

static void write_a(void)
{
	static const struct fixture_tensor a[] = {
		{ "enc/w", 16, 0 },
		{ "global_step", 8, 0 },
	};

	testutil_write_source(testutil_dir, "a", a, N(a));
}

static struct mapping *parse(const char *text)
{
	struct mapping *m = NULL;
	char err[1024] = "";

	if (mapping_parse_buffer("t.conf", text, strlen(text), testutil_dir, &m, err, sizeof(err)))
		fail_msg("mapping_parse_buffer: %s", err);
	return m;
}

/* view_build of text (with opt) gives rc; its message must be want. */
static void expect_build(const char *text, const struct view_options *opt, int rc, const char *want)
{
	struct mapping *m = parse(text);
	struct view *v = NULL;
	char err[2048] = "";

	assert_int_equal(view_build(m, opt, &v, err, sizeof(err)), rc);
	if (rc) {
		assert_null(v);
		assert_string_equal(err, want);
	}
	view_free(v);
	mapping_free(m);
}

/* ------------------------------------------------------------ prefixes */

static void test_checks_prefix_glob_characters(void **state)
{
	static const char *const bad[] = { "m*", "m?", "m[0]", "a\\b" };
	static const char *const shown_bad[] = { "*", "?", "[", "\\\\" };
	static const char *const shown_prefix[] = { "m*", "m?", "m[0]", "a\\\\b" };
	char text[256], want[512];

	(void)state;
	write_a();
	for (size_t i = 0; i < N(bad); i++) {
		struct view_options opt = { .prefix = bad[i], .layout = -1 };

		/* in a prefix line (quoted: a backslash is written doubled) */
		snprintf(text, sizeof(text), "source a = a\nmap a:/ -> /\n\nprefix = \"%s\"\n",
			 i == 3 ? "a\\\\b" : bad[i]);
		snprintf(
			want, sizeof(want),
			"t.conf:4:1: error: prefix '%s' contains '%s', which TensorFlow takes for a pattern (tf.train.latest_checkpoint would not find it)",
			shown_prefix[i], shown_bad[i]);
		expect_build(text, NULL, -EINVAL, want);
		/* as an option: the mapping is not to blame, no position */
		snprintf(
			want, sizeof(want),
			"prefix '%s' contains '%s', which TensorFlow takes for a pattern (tf.train.latest_checkpoint would not find it)",
			shown_prefix[i], shown_bad[i]);
		expect_build("source a = a\nmap a:/ -> /\n", &opt, -EINVAL, want);
	}
	/* what TensorFlow does find is fine: dots, dashes, blanks, UTF-8 */
	for (size_t i = 0; i < 3; i++) {
		static const char *const ok[] = { "model.ckpt-100", "a b", "modèle" };
		struct view_options opt = { .prefix = ok[i], .layout = -1 };

		expect_build("source a = a\nmap a:/ -> /\n", &opt, 0, NULL);
	}
}

static void test_checks_prefix_not_utf8(void **state)
{
	struct view_options opt = { .prefix = "caf\xe9", .layout = -1 };

	(void)state;
	write_a();
	expect_build("source a = a\nmap a:/ -> /\n", &opt, -EINVAL,
		     "prefix 'caf\\xe9' is not UTF-8 (TensorFlow cannot open it)");
	opt.prefix = "\xc3\x28";
	expect_build("source a = a\nmap a:/ -> /\n", &opt, -EINVAL,
		     "prefix '\\xc3(' is not UTF-8 (TensorFlow cannot open it)");
}

/* A prefix of len bytes ('p' repeated). */
static char *long_prefix(size_t len)
{
	char *s = malloc(len + 1);

	assert_non_null(s);
	memset(s, 'p', len);
	s[len] = '\0';
	return s;
}

static void test_checks_file_names_fit_name_max(void **state)
{
	size_t longest = NAME_MAX - DATA_SUFFIX_LEN;
	char *ok = long_prefix(longest), *bad = long_prefix(longest + 1);
	char text[1024], want[1024];
	struct view_options opt = { .prefix = ok, .layout = -1 };

	(void)state;
	write_a();
	/* the longest prefix whose data file name is NAME_MAX bytes */
	expect_build("source a = a\nmap a:/ -> /\n", &opt, 0, NULL);
	snprintf(text, sizeof(text), "source a = a\nmap a:/ -> /\nprefix = %s\n", ok);
	expect_build(text, NULL, 0, NULL);
	/* one more byte: refused, the same in the mapping and as an option */
	snprintf(text, sizeof(text), "source a = a\nmap a:/ -> /\nprefix = %s\n", bad);
	/* the name is quoted cut short ("..."), the position says where */
	snprintf(
		want, sizeof(want),
		"t.conf:3:1: error: file name '%.*s...' is longer than %d bytes: use a shorter prefix",
		60, bad, NAME_MAX);
	expect_build(text, NULL, -EINVAL, want);
	opt.prefix = bad;
	expect_build("source a = a\nmap a:/ -> /\n", &opt, -EINVAL,
		     want + strlen("t.conf:3:1: error: "));
	/* both layouts name their files the same way */
	snprintf(text, sizeof(text), "source a = a\nmap a:/ -> /\nprefix = %s\nlayout = shards\n",
		 bad);
	expect_build(text, NULL, -EINVAL, want);
	free(ok);
	free(bad);
}

/* ----------------------------------------------------- the object graph */

static void write_graph_sources(void)
{
	static const struct fixture_tensor g[] = {
		/* a uint8 vector under the graph's name: not a graph */
		{ OBJECT_GRAPH, 8, 0 },
		{ "x/" OBJECT_GRAPH, 4, 0 },
		{ "w", 4, 0 },
	};
	const char *strs[1] = { "\x0a\x05layer" };
	size_t lens[1] = { 7 };
	int64_t none[1] = { 0 };
	struct bundle_entry e = { .key = OBJECT_GRAPH,
				  .key_len = strlen(OBJECT_GRAPH),
				  .dtype = BUNDLE_DT_STRING,
				  .rank = 0,
				  .dims = none };
	struct bundle_writer *w;
	char prefix[512], err[BUNDLE_ERR_MAX];
	uint8_t *enc;
	size_t enc_len;

	testutil_write_source(testutil_dir, "g", g, N(g));
	/* "tf2": a real (string scalar) graph */
	snprintf(prefix, sizeof(prefix), "%s/tf2", testutil_dir);
	assert_int_equal(bundle_writer_open(prefix, &w, err, sizeof(err)), 0);
	assert_int_equal(bundle_string_encode(strs, lens, 1, &enc, &enc_len), 0);
	assert_int_equal(bundle_writer_add(w, &e, enc, enc_len), 0);
	free(enc);
	assert_int_equal(bundle_writer_finish(w, err, sizeof(err)), 0);
	bundle_writer_free(w);
}

static void test_checks_object_graph_must_be_a_string_scalar(void **state)
{
	(void)state;
	write_graph_sources();
	/* the source's own graph, by an exact rule: fine */
	expect_build("source t = tf2\nmap t:" OBJECT_GRAPH " -> " OBJECT_GRAPH "\n", NULL, 0, NULL);
	/* another tensor renamed to it: refused at the TO of its line */
	expect_build(
		"source g = g\nsource t = tf2\n\n"
		"map g:w -> " OBJECT_GRAPH "\n",
		NULL, -EINVAL,
		"t.conf:4:12: error: target '" OBJECT_GRAPH
		"' must be TF2's object graph, a string scalar, but tensor 'w' of source 'g' is uint8 of rank 1 (TensorFlow could not restore the merge)");
	/* a tensor stored under the name, but not a string scalar */
	expect_build("source g = g\nmap g:" OBJECT_GRAPH " -> " OBJECT_GRAPH "\n", NULL, -EINVAL,
		     "t.conf:2:39: error: target '" OBJECT_GRAPH
		     "' must be TF2's object graph, a string scalar, but tensor '" OBJECT_GRAPH
		     "' of source 'g' is uint8 of rank 1 (TensorFlow could not restore the merge)");
	/* a scope rule that strips its way to the name */
	expect_build("source g = g\nmap g:x/ -> /\n", NULL, -EINVAL,
		     "t.conf:2:13: error: target '" OBJECT_GRAPH
		     "' must be TF2's object graph, a string scalar, but tensor 'x/" OBJECT_GRAPH
		     "' of source 'g' is uint8 of rank 1 (TensorFlow could not restore the merge)");
}

/* ------------------------------------------------------ names in messages */

static void test_checks_messages_escape_names(void **state)
{
	static const struct fixture_tensor h[] = {
		{ "a\nb", 4, 0 },
		{ "t\x1b]0;x\x07", 4, 0 },
		{ "back\\slash", 4, 0 },
	};

	(void)state;
	testutil_write_source(testutil_dir, "h", h, N(h));
	expect_build("source h = h\nmap h:a_b -> x\n", NULL, -ENOENT,
		     "t.conf:2:5: error: source 'h' has no tensor 'a_b' (did you mean 'a\\nb'?)");
	expect_build(
		"source h = h\nmap h:/ -> /\nmap h:/ -> /\n", NULL, -EEXIST,
		"t.conf:3:1: error: target 'a\\nb' is produced twice: by this line and by line 2");
	expect_build(
		"source h = h\nmap h:back_slash -> x\n", NULL, -ENOENT,
		"t.conf:2:5: error: source 'h' has no tensor 'back_slash' (did you mean 'back\\\\slash'?)");
	expect_build(
		"source h = h\nmap h:t_]0;x_ -> x\n", NULL, -ENOENT,
		"t.conf:2:5: error: source 'h' has no tensor 't_]0;x_' (did you mean 't\\x1b]0;x\\x07'?)");
	/* a glob in a warning keeps its backslashes (it is the mapping's text) */
	{
		struct mapping *m = parse("source h = h\nmap h:/ -> /\nexclude \"h:no\\\\*\t\"\n");
		struct view *v = NULL;
		char err[1024] = "";

		assert_int_equal(view_build(m, NULL, &v, err, sizeof(err)), 0);
		assert_int_equal(view_num_warnings(v), 1);
		assert_string_equal(view_warning(v, 0),
				    "t.conf:3:1: warning: exclude 'h:no\\*\\t' matches no tensor");
		view_free(v);
		mapping_free(m);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, testutil_setup, testutil_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_checks_prefix_glob_characters),
		T(test_checks_prefix_not_utf8),
		T(test_checks_file_names_fit_name_max),
		T(test_checks_object_graph_must_be_a_string_scalar),
		T(test_checks_messages_escape_names),
	};

	return cmocka_run_group_tests_name("view_checks", tests, NULL, NULL);
}
