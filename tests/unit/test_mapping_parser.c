/*
 * test_mapping_parser.c - mapping_parse_buffer/_file, mapping_diag and the
 * layout helpers: the example of mapping.md parsed field by field, and
 * every parse-time rule with its exact "FILE:LINE:COL: error: ..." text.
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
#include <sys/stat.h>
#include <unistd.h>

#include "mapping/mapping.h"

/* The example of mapping.md, as a user would save it. */
static const char example[] =
	"# merge.conf \xe2\x80\x94 teacher/student distillation start point\n"
	"source a = models/a/model-a            # a checkpoint prefix\n"
	"source b = models/b                    # a directory: its `checkpoint` file names the latest\n"
	"source t = export/teacher/1            # a SavedModel: its variables/variables bundle\n"
	"\n"
	"map a:a -> a                           # one tensor, same name\n"
	"map b:b -> b\n"
	"map b:encoder/ -> student/encoder/     # a scope: every tensor under it, renamed\n"
	"map t:/ -> teacher/                    # the root: every tensor of t, under teacher/\n"
	"map t:dense/kernel -> head/kernel      # one tensor, renamed (also appears as teacher/dense/kernel)\n"
	"\n"
	"exclude t:*/Adam                       # optimizer slots: invisible to every map line\n"
	"exclude t:*/Adam_1\n"
	"exclude *:global_step\n"
	"\n"
	"prefix = model.ckpt                    # the merged checkpoint is <mount>/model.ckpt\n";

static struct mapping *parse_ok(const char *text, const char *base_dir)
{
	struct mapping *m = NULL;
	char err[512] = "";
	int rc;

	rc = mapping_parse_buffer("t.conf", text, strlen(text), base_dir, &m, err, sizeof(err));
	if (rc)
		fail_msg("unexpected error %d: %s", rc, err);
	assert_non_null(m);
	return m;
}

static void expect_error(const char *text, const char *want)
{
	struct mapping *m = (struct mapping *)&m;
	char err[512] = "";

	assert_int_equal(
		mapping_parse_buffer("t.conf", text, strlen(text), NULL, &m, err, sizeof(err)),
		-EINVAL);
	assert_null(m);
	assert_string_equal(err, want);
}

/* A valid first two lines, so a test's bad line is line 3. */
#define OK2 "source a = x\nmap a:y -> z\n"

static void assert_pos(const struct mapping *m, const struct mapping_pos *pos, int line, int col)
{
	assert_ptr_equal(pos->file, m->file);
	assert_int_equal(pos->line, line);
	assert_int_equal(pos->col, col);
}

static void check_source(const struct mapping *m, size_t i, const char *name, const char *path,
			 const char *resolved, int line)
{
	const struct mapping_source *s = &m->sources[i];

	assert_string_equal(s->name, name);
	assert_string_equal(s->path, path);
	assert_string_equal(s->resolved_path, resolved);
	assert_pos(m, &s->pos, line, 1);
	assert_pos(m, &s->path_pos, line, 12);
}

static void check_map(const struct mapping *m, size_t i, size_t source, enum mapping_map_kind kind,
		      const char *from, const char *to, int line, int arrow_col)
{
	const struct mapping_map *mp = &m->maps[i];

	assert_int_equal(mp->source, source);
	assert_int_equal(mp->kind, kind);
	assert_string_equal(mp->from, from);
	assert_int_equal(mp->from_len, strlen(from));
	assert_string_equal(mp->to, to);
	assert_int_equal(mp->to_len, strlen(to));
	assert_pos(m, &mp->pos, line, 1);
	assert_pos(m, &mp->from_pos, line, 5);
	assert_pos(m, &mp->to_pos, line, arrow_col + 3);
}

static void check_exclude(const struct mapping *m, size_t i, long source, const char *glob,
			  int line)
{
	assert_int_equal(m->excludes[i].source, source);
	assert_string_equal(m->excludes[i].glob, glob);
	assert_pos(m, &m->excludes[i].pos, line, 1);
}

/* Every field of the parsed example; dir is the resolved paths' base. */
static void check_example(const struct mapping *m, const char *dir)
{
	char p[3][512];

	snprintf(p[0], sizeof(p[0]), "%s%smodels/a/model-a", dir, *dir ? "/" : "");
	snprintf(p[1], sizeof(p[1]), "%s%smodels/b", dir, *dir ? "/" : "");
	snprintf(p[2], sizeof(p[2]), "%s%sexport/teacher/1", dir, *dir ? "/" : "");
	assert_int_equal(m->n_sources, 3);
	check_source(m, 0, "a", "models/a/model-a", p[0], 2);
	check_source(m, 1, "b", "models/b", p[1], 3);
	check_source(m, 2, "t", "export/teacher/1", p[2], 4);
	assert_int_equal(m->n_maps, 5);
	check_map(m, 0, 0, MAPPING_MAP_TENSOR, "a", "a", 6, 9);
	check_map(m, 1, 1, MAPPING_MAP_TENSOR, "b", "b", 7, 9);
	check_map(m, 2, 1, MAPPING_MAP_SCOPE, "encoder/", "student/encoder/", 8, 16);
	check_map(m, 3, 2, MAPPING_MAP_ROOT, "/", "teacher/", 9, 9);
	check_map(m, 4, 2, MAPPING_MAP_TENSOR, "dense/kernel", "head/kernel", 10, 20);
	assert_int_equal(m->n_excludes, 3);
	check_exclude(m, 0, 2, "*/Adam", 12);
	check_exclude(m, 1, 2, "*/Adam_1", 13);
	check_exclude(m, 2, -1, "global_step", 14);
	assert_string_equal(m->prefix, "model.ckpt");
	assert_pos(m, &m->prefix_pos, 16, 1);
	assert_int_equal(m->layout, MAPPING_LAYOUT_SINGLE);
	assert_ptr_equal(m->layout_pos.file, m->file);
	assert_int_equal(m->layout_pos.line, 0);
}

static void test_parser_example(void **state)
{
	struct mapping *m = parse_ok(example, NULL);

	(void)state;
	assert_string_equal(m->file, "t.conf");
	check_example(m, "");
	mapping_free(m);
}

/* The example with "\r\n" line ends, and without its last newline. */
static void test_parser_example_crlf_and_no_final_newline(void **state)
{
	char crlf[2 * sizeof(example)], *w = crlf;
	struct mapping *m;
	const char *r;

	(void)state;
	for (r = example; *r; r++) {
		if (*r == '\n')
			*w++ = '\r';
		*w++ = *r;
	}
	*w = '\0';
	m = parse_ok(crlf, NULL);
	check_example(m, "");
	mapping_free(m);
	crlf[strlen(crlf) - 2] = '\0';
	m = parse_ok(crlf, NULL);
	check_example(m, "");
	mapping_free(m);
	memcpy(crlf, example, sizeof(example));
	crlf[strlen(crlf) - 1] = '\0';
	m = parse_ok(crlf, NULL);
	check_example(m, "");
	mapping_free(m);
}

static void test_parser_defaults_and_settings(void **state)
{
	struct mapping *m;

	(void)state;
	m = parse_ok("source a = x\nmap a:y -> z\n", NULL);
	assert_string_equal(m->prefix, "model.ckpt");
	assert_int_equal(m->prefix_pos.line, 0);
	assert_ptr_equal(m->prefix_pos.file, m->file);
	assert_int_equal(m->layout, MAPPING_LAYOUT_SINGLE);
	assert_int_equal(m->n_excludes, 0);
	assert_null(m->excludes);
	mapping_free(m);
	m = parse_ok(OK2 "  layout = shards\nprefix = \"my model\" # q\n", NULL);
	assert_int_equal(m->layout, MAPPING_LAYOUT_SHARDS);
	assert_pos(m, &m->layout_pos, 3, 3);
	assert_string_equal(m->prefix, "my model");
	assert_pos(m, &m->prefix_pos, 4, 1);
	mapping_free(m);
}

/* "/" as the TO of a root or scope rule is stored as "". */
static void test_parser_map_kinds(void **state)
{
	struct mapping *m;

	(void)state;
	m = parse_ok("source s = x\n"
		     "map s:/ -> /\n"
		     "map s:/ -> t/\n"
		     "map s:enc/ -> /\n"
		     "map s:enc/ -> dec/\n"
		     "map s:w -> v\n"
		     "map s:b:c -> d:e\n"
		     "map \"s:a b\" -> \"c d\"\n"
		     "map s:x/ -> \"/\"\n",
		     NULL);
	assert_int_equal(m->n_maps, 8);
	check_map(m, 0, 0, MAPPING_MAP_ROOT, "/", "", 2, 9);
	check_map(m, 1, 0, MAPPING_MAP_ROOT, "/", "t/", 3, 9);
	check_map(m, 2, 0, MAPPING_MAP_SCOPE, "enc/", "", 4, 12);
	check_map(m, 3, 0, MAPPING_MAP_SCOPE, "enc/", "dec/", 5, 12);
	check_map(m, 4, 0, MAPPING_MAP_TENSOR, "w", "v", 6, 9);
	/* NAME:FROM splits at the first ':'. */
	check_map(m, 5, 0, MAPPING_MAP_TENSOR, "b:c", "d:e", 7, 11);
	check_map(m, 6, 0, MAPPING_MAP_TENSOR, "a b", "c d", 8, 13);
	check_map(m, 7, 0, MAPPING_MAP_SCOPE, "x/", "", 9, 10);
	mapping_free(m);
}

/* A FROM ending in '.' is a prefix of dotted (safetensors) names. */
static void test_parser_dot_prefixes(void **state)
{
	struct mapping *m;

	(void)state;
	m = parse_ok("source s = x\n"
		     "map s:model.layers.3. -> model.layers.7.\n"
		     "map s:model.layers.3. -> /\n"
		     "map s:/ -> model.\n"
		     "map s:a.b -> c.\n",
		     NULL);
	assert_int_equal(m->n_maps, 4);
	check_map(m, 0, 0, MAPPING_MAP_SCOPE, "model.layers.3.", "model.layers.7.", 2, 23);
	check_map(m, 1, 0, MAPPING_MAP_SCOPE, "model.layers.3.", "", 3, 23);
	check_map(m, 2, 0, MAPPING_MAP_ROOT, "/", "model.", 4, 9);
	/* a tensor may be renamed to a name ending in '.' */
	check_map(m, 3, 0, MAPPING_MAP_TENSOR, "a.b", "c.", 5, 11);
	mapping_free(m);
	expect_error(
		OK2 "map a:model.layers.3. -> model.layers.7\n",
		"t.conf:3:26: error: prefix 'model.layers.3.' must map to a prefix ending in '.' (or '/' to strip it): write 'model.layers.7.'");
}

/* max_shard_size: Hugging Face's units, 5 GB unless a line says. */
static void test_parser_max_shard_size(void **state)
{
	static const struct {
		const char *word;
		uint64_t bytes;
	} ok[] = { { "1", 1 },
		   { "100B", 100 },
		   { "2KB", 2000 },
		   { "5GB", 5000000000ull },
		   { "2GiB", 2ull << 30 },
		   { "1TiB", 1ull << 40 } };
	struct mapping *m;
	char text[128];

	(void)state;
	m = parse_ok(OK2, NULL);
	assert_true(m->max_shard_size == MAPPING_MAX_SHARD_SIZE);
	assert_int_equal(m->max_shard_size_pos.line, 0);
	mapping_free(m);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), OK2 "max_shard_size = %s\n", ok[i].word);
		m = parse_ok(text, NULL);
		assert_true(m->max_shard_size == ok[i].bytes);
		assert_pos(m, &m->max_shard_size_pos, 3, 1);
		mapping_free(m);
	}
	expect_error(
		OK2 "max_shard_size = 5G\n",
		"t.conf:3:18: error: invalid size '5G' (a number above 0, then nothing, B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
	expect_error(
		OK2 "max_shard_size = 0GB\n",
		"t.conf:3:18: error: invalid size '0GB' (a number above 0, then nothing, B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
	expect_error(
		OK2 "max_shard_size = 99999999999TB\n",
		"t.conf:3:18: error: invalid size '99999999999TB' (a number above 0, then nothing, B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
	expect_error(OK2 "max_shard_size = 1GB\nmax_shard_size = 2GB\n",
		     "t.conf:4:1: error: duplicate 'max_shard_size' (first set at line 3)");
}

/* file lines: SRC:PATH names a declared source's file, anything else a local path. */
static void test_parser_files(void **state)
{
	struct mapping *m;

	(void)state;
	m = parse_ok("file config.json = a:config.json\n"
		     "file b.json = zz:b.json\n"
		     "file c.json = /abs/c.json\n"
		     "source a = x\n"
		     "map a:y -> z\n",
		     "/base");
	assert_int_equal(m->n_files, 3);
	assert_string_equal(m->files[0].name, "config.json");
	assert_int_equal(m->files[0].source, 0);
	assert_string_equal(m->files[0].path, "config.json");
	assert_null(m->files[0].resolved_path);
	assert_pos(m, &m->files[0].pos, 1, 1);
	assert_pos(m, &m->files[0].path_pos, 1, 20);
	/* zz is no source: a local file called "zz:b.json" */
	assert_int_equal(m->files[1].source, -1);
	assert_string_equal(m->files[1].path, "zz:b.json");
	assert_string_equal(m->files[1].resolved_path, "/base/zz:b.json");
	assert_string_equal(m->files[2].resolved_path, "/abs/c.json");
	mapping_free(m);
	expect_error(
		OK2 "file ../c.json = a:c.json\n",
		"t.conf:3:6: error: invalid file name '../c.json' (a name of the mount's top directory: no '/', at most 255 bytes)");
	expect_error(OK2 "file c.json = a:c.json\nfile c.json = d.json\n",
		     "t.conf:4:6: error: duplicate file 'c.json' (first at line 3)");
	expect_error(
		OK2 "file c.json = \"\"\n",
		"t.conf:3:15: error: empty path (usage: file NAME = SRC:PATH or file NAME = PATH)");
}

/* A range renumbers a run: one map per number, in step. */
static void test_parser_ranges(void **state)
{
	struct mapping *m;

	(void)state;
	m = parse_ok("source b = x\n"
		     "map b:model.layers.{8..10}. -> model.layers.{16..18}.\n"
		     "map b:w{0..1} -> v{1..2}\n",
		     NULL);
	assert_int_equal(m->n_maps, 5);
	check_map(m, 0, 0, MAPPING_MAP_SCOPE, "model.layers.8.", "model.layers.16.", 2, 29);
	check_map(m, 1, 0, MAPPING_MAP_SCOPE, "model.layers.9.", "model.layers.17.", 2, 29);
	check_map(m, 2, 0, MAPPING_MAP_SCOPE, "model.layers.10.", "model.layers.18.", 2, 29);
	check_map(m, 3, 0, MAPPING_MAP_TENSOR, "w0", "v1", 3, 15);
	check_map(m, 4, 0, MAPPING_MAP_TENSOR, "w1", "v2", 3, 15);
	mapping_free(m);
	/* braces of another shape are part of the name */
	m = parse_ok("source b = x\nmap b:a{x}.{1..} -> c{..2}\n", NULL);
	check_map(m, 0, 0, MAPPING_MAP_TENSOR, "a{x}.{1..}", "c{..2}", 2, 18);
	mapping_free(m);
	expect_error(OK2 "map a:model.layers.{8..23}. -> model.layers.{16..30}.\n",
		     "t.conf:3:45: error: range {16..30} has 15 numbers, FROM's {8..23} has 16");
	expect_error(
		OK2 "map a:model.layers.{8..23}. -> model.layers.16.\n",
		"t.conf:3:20: error: a range in FROM needs one in TO (map NAME:A.{0..3}. -> B.{4..7}.)");
	expect_error(
		OK2 "map a:model.layers.8. -> model.layers.{1..2}.\n",
		"t.conf:3:39: error: a range in TO needs one in FROM (map NAME:A.{0..3}. -> B.{4..7}.)");
	expect_error(OK2 "map a:l.{3..1}. -> m.{1..3}.\n",
		     "t.conf:3:9: error: invalid range: a range that runs downwards");
	expect_error(
		OK2 "map a:l.{1..2}.{3..4} -> m.{1..2}.\n",
		"t.conf:3:16: error: invalid range: a second range in one name (one is renumbered at a time)");
	expect_error(OK2 "map a:l.{01..2}. -> m.{1..2}.\n",
		     "t.conf:3:9: error: invalid range: a number with a leading zero");
	expect_error(OK2 "map a:l.{0..100000}. -> m.{0..100000}.\n",
		     "t.conf:3:9: error: invalid range: a range of more than 100000 numbers");
	expect_error(OK2 "map a:l.{0..99999999999999999999}. -> m.{1..2}.\n",
		     "t.conf:3:9: error: invalid range: a number too large");
	expect_error(
		OK2 "map a:l.{0..1}. -> m.{1..2}\n",
		"t.conf:3:20: error: prefix 'l.0.' must map to a prefix ending in '.' (or '/' to strip it): write 'm.1.'");
}

/* map and exclude may name a source declared further down. */
static void test_parser_sources_resolved_after_the_file(void **state)
{
	struct mapping *m;

	(void)state;
	m = parse_ok("exclude b:*/Adam\n"
		     "map b:x -> y\n"
		     "source a = p\n"
		     "map a:x -> z\n"
		     "source b = q\n"
		     "exclude *:s\n"
		     "exclude a:t\n",
		     NULL);
	assert_int_equal(m->n_sources, 2);
	assert_int_equal(m->maps[0].source, 1);
	assert_int_equal(m->maps[1].source, 0);
	check_exclude(m, 0, 1, "*/Adam", 1);
	check_exclude(m, 1, -1, "s", 6);
	check_exclude(m, 2, 0, "t", 7);
	mapping_free(m);
}

static void test_parser_source_names(void **state)
{
	struct mapping *m;

	(void)state;
	m = parse_ok("source _ = p\nsource A.b-c_9 = p\nsource a.. = p\n"
		     "map A.b-c_9:x -> y\n",
		     NULL);
	assert_string_equal(m->sources[1].name, "A.b-c_9");
	assert_int_equal(m->maps[0].source, 1);
	mapping_free(m);
	expect_error(
		OK2 "source 1a = p\n",
		"t.conf:3:8: error: invalid source name '1a' (use letters, digits, '_', '.' and '-', starting with a letter or '_')");
	expect_error(
		OK2 "source .a = p\n",
		"t.conf:3:8: error: invalid source name '.a' (use letters, digits, '_', '.' and '-', starting with a letter or '_')");
	expect_error(
		OK2 "source -a = p\n",
		"t.conf:3:8: error: invalid source name '-a' (use letters, digits, '_', '.' and '-', starting with a letter or '_')");
	expect_error(
		OK2 "source a/b = p\n",
		"t.conf:3:8: error: invalid source name 'a/b' (use letters, digits, '_', '.' and '-', starting with a letter or '_')");
	expect_error(
		OK2 "source a:b = p\n",
		"t.conf:3:8: error: invalid source name 'a:b' (use letters, digits, '_', '.' and '-', starting with a letter or '_')");
	expect_error(
		OK2 "source \xc3\xa9 = p\n",
		"t.conf:3:8: error: invalid source name '\xc3\xa9' (use letters, digits, '_', '.' and '-', starting with a letter or '_')");
	expect_error(
		OK2 "source \"\" = p\n",
		"t.conf:3:8: error: invalid source name '' (use letters, digits, '_', '.' and '-', starting with a letter or '_')");
	expect_error("source a = x\nsource b = y\n\tsource  a = z\nmap a:y -> z\n",
		     "t.conf:3:10: error: duplicate source 'a' (first declared at line 1)");
}

/* The rule itself, as the fuzzer checks parsed names against it. */
static void test_source_name_rule(void **state)
{
	(void)state;
	assert_true(mapping_source_name_ok("_"));
	assert_true(mapping_source_name_ok("A.b-c_9"));
	assert_true(mapping_source_name_ok("a.."));
	assert_false(mapping_source_name_ok(""));
	assert_false(mapping_source_name_ok("1a"));
	assert_false(mapping_source_name_ok(".a"));
	assert_false(mapping_source_name_ok("-a"));
	assert_false(mapping_source_name_ok("a/b"));
	assert_false(mapping_source_name_ok("a b"));
	assert_false(mapping_source_name_ok("\xc3\xa9"));
}

static void test_parser_source_errors(void **state)
{
	(void)state;
	expect_error(
		"source",
		"t.conf:1:7: error: expected a source name after 'source' (usage: source NAME = PATH)");
	expect_error("source a   # c\n",
		     "t.conf:1:9: error: expected '=' after 'a' (usage: source NAME = PATH)");
	expect_error("source a =\n",
		     "t.conf:1:11: error: expected a path after '=' (usage: source NAME = PATH)");
	expect_error(
		"source a models/a\n",
		"t.conf:1:10: error: expected '=' after 'a', not 'models/a' (usage: source NAME = PATH)");
	expect_error(
		"source a =models/a\n",
		"t.conf:1:10: error: expected '=' after 'a', not '=models/a' (put blanks around '=')");
	expect_error("source a \"=\" p\n",
		     "t.conf:1:10: error: '=' must not be quoted (usage: source NAME = PATH)");
	expect_error(
		"source a=models/a\n",
		"t.conf:1:8: error: missing blanks around '=' in 'a=models/a' (usage: source NAME = PATH)");
	expect_error(
		"source a= p\n",
		"t.conf:1:8: error: missing blanks around '=' in 'a=' (usage: source NAME = PATH)");
	expect_error(
		"source a = my models/a\n",
		"t.conf:1:15: error: unexpected 'models/a' after 'my' (quote a path that contains blanks)");
	expect_error("source a = \"\"\n",
		     "t.conf:1:12: error: empty path (usage: source NAME = PATH)");
	expect_error(
		"source=a = p\n",
		"t.conf:1:1: error: unknown directive 'source=a' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
}

static void test_parser_map_syntax_errors(void **state)
{
	(void)state;
	expect_error(
		OK2 "map\n",
		"t.conf:3:4: error: expected 'NAME:FROM' after 'map' (usage: map NAME:FROM -> TO)");
	expect_error(OK2 "map a:x\n",
		     "t.conf:3:8: error: expected '->' after 'a:x' (usage: map NAME:FROM -> TO)");
	expect_error(
		OK2 "map a:x ->  \n",
		"t.conf:3:11: error: expected a target name after '->' (usage: map NAME:FROM -> TO)");
	expect_error(
		OK2 "map a:x => y\n",
		"t.conf:3:9: error: expected '->' after 'a:x', not '=>' (usage: map NAME:FROM -> TO)");
	expect_error(
		OK2 "map a:x y\n",
		"t.conf:3:9: error: expected '->' after 'a:x', not 'y' (usage: map NAME:FROM -> TO)");
	expect_error(
		OK2 "map a:x ->y\n",
		"t.conf:3:9: error: expected '->' after 'a:x', not '->y' (put blanks around '->')");
	expect_error(OK2 "map a:x \"->\" y\n",
		     "t.conf:3:9: error: '->' must not be quoted (usage: map NAME:FROM -> TO)");
	expect_error(
		OK2 "map a:x->y\n",
		"t.conf:3:5: error: missing blanks around '->' in 'a:x->y' (usage: map NAME:FROM -> TO)");
	expect_error(
		OK2 "map a:x-> y\n",
		"t.conf:3:5: error: missing blanks around '->' in 'a:x->' (usage: map NAME:FROM -> TO)");
	expect_error(
		OK2 "map a:x -> y z\n",
		"t.conf:3:14: error: unexpected 'z' after 'y' (quote a name that contains blanks)");
	expect_error(OK2 "map ax -> y\n",
		     "t.conf:3:5: error: missing ':' in 'ax' (usage: map NAME:FROM -> TO)");
	expect_error(
		OK2 "map :x -> y\n",
		"t.conf:3:5: error: missing source name before ':' in ':x' (usage: map NAME:FROM -> TO)");
	expect_error(
		OK2 "map a: -> y\n",
		"t.conf:3:5: error: empty tensor name after 'a:' (usage: map NAME:FROM -> TO)");
	/* The word's own error comes before the missing arrow. */
	expect_error(
		OK2 "map a:\n",
		"t.conf:3:5: error: empty tensor name after 'a:' (usage: map NAME:FROM -> TO)");
}

static void test_parser_map_kind_errors(void **state)
{
	(void)state;
	expect_error(
		OK2 "map a:/ -> teacher\n",
		"t.conf:3:12: error: root '/' must map to a scope ending in '/' (or '/' to keep names): write 'teacher/'");
	expect_error(
		OK2 "map a:/ -> \"\"\n",
		"t.conf:3:12: error: root '/' must map to a scope ending in '/' (or '/' to keep names)");
	expect_error(
		OK2 "map a:enc/ -> student\n",
		"t.conf:3:15: error: scope 'enc/' must map to a scope ending in '/' (or '/' to strip it): write 'student/'");
	expect_error(
		OK2 "map a:enc/ -> \"\"\n",
		"t.conf:3:15: error: scope 'enc/' must map to a scope ending in '/' (or '/' to strip it)");
	expect_error(
		OK2 "map a:enc -> student/enc/\n",
		"t.conf:3:14: error: tensor 'enc' must map to a tensor name, not to scope 'student/enc/' (end FROM with '/' to map a whole scope)");
	expect_error(
		OK2 "map a:enc -> /\n",
		"t.conf:3:14: error: tensor 'enc' must map to a tensor name, not to scope '/' (end FROM with '/' to map a whole scope)");
	expect_error(OK2 "map a:enc -> \"\"\n",
		     "t.conf:3:14: error: empty target name for tensor 'enc'");
}

static void test_parser_unknown_sources(void **state)
{
	(void)state;
	expect_error("source a = x\nmap a:y -> z\nmap  c:x -> y\n",
		     "t.conf:3:6: error: unknown source 'c'");
	expect_error("source a = x\nmap A:y -> z\n", "t.conf:2:5: error: unknown source 'A'");
	expect_error(OK2 "exclude  c:x\n", "t.conf:3:10: error: unknown source 'c'");
	expect_error(OK2 "exclude **:x\n", "t.conf:3:9: error: unknown source '**'");
	/* The whole file is parsed first: a later syntax error wins. */
	expect_error(
		"source a = x\nmap c:y -> z\nbogus\n",
		"t.conf:3:1: error: unknown directive 'bogus' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
	/* Unknown sources are reported in file order. */
	expect_error("exclude d:x\nmap c:y -> z\nsource a = x\n",
		     "t.conf:1:9: error: unknown source 'd'");
}

static void test_parser_exclude_errors(void **state)
{
	(void)state;
	expect_error(
		OK2 "exclude\n",
		"t.conf:3:8: error: expected 'NAME:GLOB' after 'exclude' (usage: exclude NAME:GLOB or exclude *:GLOB)");
	expect_error(
		OK2 "exclude a\n",
		"t.conf:3:9: error: missing ':' in 'a' (usage: exclude NAME:GLOB or exclude *:GLOB)");
	expect_error(
		OK2 "exclude :x\n",
		"t.conf:3:9: error: missing source name before ':' in ':x' (usage: exclude NAME:GLOB or exclude *:GLOB)");
	expect_error(
		OK2 "exclude a:\n",
		"t.conf:3:9: error: empty glob after 'a:' (usage: exclude NAME:GLOB or exclude *:GLOB)");
	expect_error(
		OK2 "exclude a:x y\n",
		"t.conf:3:13: error: unexpected 'y' after 'a:x' (quote a glob that contains blanks)");
}

static void test_parser_prefix_and_layout_errors(void **state)
{
	(void)state;
	expect_error(OK2 "prefix\n",
		     "t.conf:3:7: error: expected '=' after 'prefix' (usage: prefix = NAME)");
	expect_error(OK2 "prefix =\n",
		     "t.conf:3:9: error: expected a name after '=' (usage: prefix = NAME)");
	expect_error(
		OK2 "prefix x\n",
		"t.conf:3:8: error: expected '=' after 'prefix', not 'x' (usage: prefix = NAME)");
	expect_error(
		OK2 "prefix=x\n",
		"t.conf:3:1: error: missing blanks around '=' in 'prefix=x' (usage: prefix = NAME)");
	expect_error(
		OK2 "prefix = a/b\n",
		"t.conf:3:10: error: prefix 'a/b' may not contain '/' (it names a file in the mount's top directory)");
	expect_error(OK2 "prefix = .\n", "t.conf:3:10: error: prefix '.' is not a file name");
	expect_error(OK2 "prefix = ..\n", "t.conf:3:10: error: prefix '..' is not a file name");
	expect_error(OK2 "prefix = \"\"\n",
		     "t.conf:3:10: error: empty prefix (usage: prefix = NAME)");
	expect_error(
		OK2 "prefix = a b\n",
		"t.conf:3:12: error: unexpected 'b' after 'a' (quote a name that contains blanks)");
	expect_error(OK2 "prefix = a\n\n  prefix = a\n",
		     "t.conf:5:3: error: duplicate 'prefix' (first set at line 3)");
	expect_error(
		OK2 "layout\n",
		"t.conf:3:7: error: expected '=' after 'layout' (usage: layout = single|shards)");
	expect_error(
		OK2 "layout shards\n",
		"t.conf:3:8: error: expected '=' after 'layout', not 'shards' (usage: layout = single|shards)");
	expect_error(
		OK2 "layout = \n",
		"t.conf:3:9: error: expected 'single' or 'shards' after '=' (usage: layout = single|shards)");
	expect_error(OK2 "layout = dense\n",
		     "t.conf:3:10: error: unknown layout 'dense' (expected 'single' or 'shards')");
	expect_error(OK2 "layout = Single\n",
		     "t.conf:3:10: error: unknown layout 'Single' (expected 'single' or 'shards')");
	expect_error(
		OK2 "layout = single x\n",
		"t.conf:3:17: error: unexpected 'x' after 'single' (usage: layout = single|shards)");
	expect_error(
		OK2 "layout=shards\n",
		"t.conf:3:1: error: missing blanks around '=' in 'layout=shards' (usage: layout = single|shards)");
	expect_error(OK2 "layout = single\nlayout = shards\n",
		     "t.conf:4:1: error: duplicate 'layout' (first set at line 3)");
}

static void test_parser_directive_errors(void **state)
{
	(void)state;
	expect_error(
		"mapp a:x -> y\n",
		"t.conf:1:1: error: unknown directive 'mapp' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
	expect_error(
		OK2 "\n   Source a = x\n",
		"t.conf:4:4: error: unknown directive 'Source' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
	expect_error(
		OK2 "version 1\n",
		"t.conf:3:1: error: unknown directive 'version' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
}

/*
 * A word longer than 43 bytes is quoted by its first 40 and "...", its
 * controls escaped: a file that is not a mapping (a private file behind a
 * symlink) is not echoed.
 */
#define NOT_A_MAPPING \
	"error: not a ckptfs mapping file (its lines start with source, map, exclude, prefix, layout, format or checkpoint)"

static void test_parser_quotes_words_short(void **state)
{
	(void)state;
	/* an unknown directive after the first: 16 bytes at most */
	expect_error(
		OK2 "frobnicateeverything a\n",
		"t.conf:3:1: error: unknown directive 'frobnicateeve...' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
	/* exactly 16 bytes: whole */
	expect_error(
		OK2 "0123456789abcdef\n",
		"t.conf:3:1: error: unknown directive '0123456789abcdef' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
	/* a tab, only possible in quotes */
	expect_error(
		OK2 "\"a\tb\" x\n",
		"t.conf:3:1: error: unknown directive 'a\\tb' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
	expect_error(
		OK2 "map \"a:x\ty\" -> z/\n",
		"t.conf:3:16: error: tensor 'x\\ty' must map to a tensor name, not to scope 'z/' (end FROM with '/' to map a whole scope)");
	expect_error(
		OK2 "map b"
		    "01234567890123456789012345678901234567890123456789:x -> y\n",
		"t.conf:3:5: error: unknown source 'b012345678901234567890123456789012345678...'");
}

/*
 * A file whose first line is no directive (a private file behind a
 * symlink, a binary) is not a mapping: nothing of it is quoted, not even
 * the bytes a lexical error would show. A typo of a directive on the first
 * line is still one, and a lexical error in a line that starts with a
 * directive keeps its message.
 */
static void test_parser_not_a_mapping_is_not_quoted(void **state)
{
	(void)state;
	expect_error("root:$6$0123456789abcdefghijklmnopqrstuvwxyz:19000:0:99999:7:::\n",
		     "t.conf:1:1: " NOT_A_MAPPING);
	expect_error("# a comment first\n\n  password = hunter2\n", "t.conf:3:3: " NOT_A_MAPPING);
	expect_error("\"source a\" = x\n", "t.conf:1:1: " NOT_A_MAPPING);
	expect_error("ab\n", "t.conf:1:1: " NOT_A_MAPPING);
	/* typos, one edit from a short directive, two from a long one */
	expect_error(
		"sorce a = x\n",
		"t.conf:1:1: error: unknown directive 'sorce' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
	expect_error(
		"mpa a:x -> y\n",
		"t.conf:1:1: error: unknown directive 'mpa' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
	expect_error(
		"chekpoint = auto\n",
		"t.conf:1:1: error: unknown directive 'chekpoint' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)");
	/* lexical errors before the first directive: no byte of the line */
	expect_error("\xff\xfe\x00junk\n",
		     "t.conf:1: error: not a ckptfs mapping file (binary, or not UTF-8 text)");
	expect_error("key=\x01secret\n",
		     "t.conf:1: error: not a ckptfs mapping file (binary, or not UTF-8 text)");
	expect_error("\n\tsecret \"quote\n",
		     "t.conf:2: error: not a ckptfs mapping file (binary, or not UTF-8 text)");
	expect_error(
		"source a = \xc3\x28\n",
		"t.conf:1:12: error: invalid UTF-8 sequence 0xc3 0x28 (the mapping file must be UTF-8)");
	expect_error("  map \"x\n",
		     "t.conf:1:7: error: unterminated quoted word (missing closing '\"')");
	/* formats people take for a mapping: said what they are */
	expect_error(
		"\x89HDF\r\n\x1a\n\x00\x00",
		"t.conf: error: not a ckptfs mapping file, but an HDF5 file (Keras 3 weights, as model.save_weights writes them), and not a TensorFlow checkpoint either: tf.train.Checkpoint(model=model).write(PATH) saves one ckptfs reads");
	expect_error(
		"PK\x03\x04rest",
		"t.conf: error: not a ckptfs mapping file, but a ZIP archive (a Keras 3 model, as model.save writes it), and not a TensorFlow checkpoint either: tf.train.Checkpoint(model=model).write(PATH) saves one ckptfs reads");
}

static void test_parser_nothing_to_mount(void **state)
{
	(void)state;
	expect_error("", "t.conf: error: no 'source' lines: nothing to mount");
	expect_error("# nothing\n\n", "t.conf: error: no 'source' lines: nothing to mount");
	expect_error("map a:x -> y\n", "t.conf: error: no 'source' lines: nothing to mount");
	expect_error("source a = x\nexclude a:y\n",
		     "t.conf: error: no 'map' lines: nothing to mount");
}

/* Errors of the lexer come out of the parser unchanged. */
static void test_parser_lexical_errors(void **state)
{
	(void)state;
	expect_error(OK2 "map a:\xff -> y\n",
		     "t.conf:3:7: error: invalid UTF-8 byte 0xff (the mapping file must be UTF-8)");
	expect_error(OK2 "source b = \"x\n",
		     "t.conf:3:12: error: unterminated quoted word (missing closing '\"')");
}

static void test_parser_resolved_paths(void **state)
{
	static const char text[] = "source a = models/a\nsource b = /abs/b\n"
				   "source c = \"./c d\"\nmap a:x -> y\n";
	struct mapping *m;

	(void)state;
	m = parse_ok(text, NULL);
	assert_string_equal(m->sources[0].resolved_path, "models/a");
	assert_string_equal(m->sources[1].resolved_path, "/abs/b");
	assert_string_equal(m->sources[2].resolved_path, "./c d");
	mapping_free(m);
	m = parse_ok(text, "");
	assert_string_equal(m->sources[0].resolved_path, "models/a");
	mapping_free(m);
	m = parse_ok(text, "/etc/ckpt");
	assert_string_equal(m->sources[0].path, "models/a");
	assert_string_equal(m->sources[0].resolved_path, "/etc/ckpt/models/a");
	assert_string_equal(m->sources[1].resolved_path, "/abs/b");
	assert_string_equal(m->sources[2].resolved_path, "/etc/ckpt/./c d");
	mapping_free(m);
	m = parse_ok(text, "rel/dir/");
	assert_string_equal(m->sources[0].resolved_path, "rel/dir/models/a");
	mapping_free(m);
	m = parse_ok(text, "/");
	assert_string_equal(m->sources[0].resolved_path, "/models/a");
	mapping_free(m);
}

/* Unterminated buffers, NULL name, no error buffer. */
static void test_parser_buffer_edges(void **state)
{
	static const char text[] = "source a = x\nmap a:y -> z\nbogus";
	struct mapping *m;
	char err[64];

	(void)state;
	assert_int_equal(mapping_parse_buffer("b", text, 25, NULL, &m, err, sizeof(err)), 0);
	assert_int_equal(m->n_maps, 1);
	assert_string_equal(m->maps[0].to, "z");
	mapping_free(m);
	assert_int_equal(
		mapping_parse_buffer(NULL, text, sizeof(text) - 1, NULL, &m, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "<buffer>:3:1: error: unknown directive 'bogus' (expected source");
	assert_int_equal(mapping_parse_buffer("b", text, sizeof(text) - 1, NULL, &m, NULL, 0),
			 -EINVAL);
	assert_null(m);
	assert_int_equal(mapping_parse_buffer("b", NULL, 0, NULL, &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "b: error: no 'source' lines: nothing to mount");
	mapping_free(NULL);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void test_parser_file(void **state)
{
	char dir[] = "/tmp/ckptfs-mapping-XXXXXX", path[128], err[512];
	char want[256];
	struct mapping *m;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/merge.conf", dir);
	write_file(path, example);
	assert_int_equal(mapping_parse_file(path, &m, err, sizeof(err)), 0);
	assert_string_equal(m->file, path);
	check_example(m, dir);
	mapping_free(m);

	write_file(path, OK2 "map a:/ -> t\n");
	assert_int_equal(mapping_parse_file(path, &m, err, sizeof(err)), -EINVAL);
	assert_null(m);
	snprintf(
		want, sizeof(want),
		"%s:3:12: error: root '/' must map to a scope ending in '/' (or '/' to keep names): write 't/'",
		path);
	assert_string_equal(err, want);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* A file name without a directory keeps relative paths relative. */
static void test_parser_file_in_current_directory(void **state)
{
	char dir[] = "/tmp/ckptfs-mapping-XXXXXX", cwd[4096], err[512];
	struct mapping *m;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	write_file("merge.conf", example);
	assert_int_equal(mapping_parse_file("merge.conf", &m, err, sizeof(err)), 0);
	check_example(m, "");
	mapping_free(m);
	assert_int_equal(unlink("merge.conf"), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_parser_file_unreadable(void **state)
{
	char dir[] = "/tmp/ckptfs-mapping-XXXXXX", path[128], want[256];
	char err[512];
	struct mapping *m = (struct mapping *)&m;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nope.conf", dir);
	assert_int_equal(mapping_parse_file(path, &m, err, sizeof(err)), -ENOENT);
	assert_null(m);
	snprintf(want, sizeof(want), "%s: error: cannot read: No such file or directory", path);
	assert_string_equal(err, want);
	assert_int_equal(mapping_parse_file(dir, &m, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "%s: error: cannot read: Is a directory", dir);
	assert_string_equal(err, want);
	/* a FIFO with no writer is refused at once, not waited on */
	snprintf(path, sizeof(path), "%s/fifo.conf", dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_int_equal(mapping_parse_file(path, &m, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: error: cannot read: not a regular file (a FIFO)", path);
	assert_string_equal(err, want);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mapping_parse_file("/dev/null", &m, err, sizeof(err)), -EINVAL);
	assert_string_equal(
		err, "/dev/null: error: cannot read: not a regular file (a character device)");
	assert_null(m);
	assert_int_equal(rmdir(dir), 0);
}

static void test_diag_formats(void **state)
{
	const struct mapping_pos full = { "f.conf", 3, 7 };
	const struct mapping_pos line = { "f.conf", 3, 0 };
	const struct mapping_pos file = { "f.conf", 0, 0 };
	const struct mapping_pos none = { NULL, 3, 7 };
	char buf[128];

	(void)state;
	assert_int_equal(
		mapping_diag(buf, sizeof(buf), -EINVAL, &full, "error", "unknown source '%s'", "c"),
		-EINVAL);
	assert_string_equal(buf, "f.conf:3:7: error: unknown source 'c'");
	assert_int_equal(mapping_diag(buf, sizeof(buf), 0, &line, "warning",
				      "exclude '%s' matches nothing", "x"),
			 0);
	assert_string_equal(buf, "f.conf:3: warning: exclude 'x' matches nothing");
	mapping_diag(buf, sizeof(buf), -1, &file, "error", "bad");
	assert_string_equal(buf, "f.conf: error: bad");
	mapping_diag(buf, sizeof(buf), -1, &none, "error", "bad");
	assert_string_equal(buf, "error: bad");
	mapping_diag(buf, sizeof(buf), -1, NULL, NULL, "%d", 42);
	assert_string_equal(buf, "error: 42");
}

static void test_diag_truncates(void **state)
{
	const struct mapping_pos full = { "f.conf", 3, 7 };
	char buf[16];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(mapping_diag(buf, 12, -EINVAL, &full, "error", "m"), -EINVAL);
	assert_string_equal(buf, "f.conf:3:7:");
	assert_int_equal(buf[12], 'x');
	mapping_diag(buf, 16, -EINVAL, &full, "error", "m");
	assert_string_equal(buf, "f.conf:3:7: err");
	mapping_diag(buf, 1, -EINVAL, &full, "error", "m");
	assert_string_equal(buf, "");
	assert_int_equal(mapping_diag(NULL, 0, -ENOMEM, &full, "error", "m"), -ENOMEM);
}

/* `checkpoint = auto|object-based|name-based`, set once; auto by default. */
static void test_parser_checkpoint(void **state)
{
	struct mapping *m;

	(void)state;
	m = parse_ok(OK2, NULL);
	assert_int_equal(m->checkpoint, MAPPING_CHECKPOINT_AUTO);
	assert_int_equal(m->checkpoint_pos.line, 0);
	mapping_free(m);
	m = parse_ok(OK2 "checkpoint = object-based\n", NULL);
	assert_int_equal(m->checkpoint, MAPPING_CHECKPOINT_OBJECT_BASED);
	assert_pos(m, &m->checkpoint_pos, 3, 1);
	mapping_free(m);
	m = parse_ok("checkpoint = name-based\n" OK2, NULL);
	assert_int_equal(m->checkpoint, MAPPING_CHECKPOINT_NAME_BASED);
	mapping_free(m);
	assert_string_equal(mapping_checkpoint_name(MAPPING_CHECKPOINT_OBJECT_BASED),
			    "object-based");
	assert_string_equal(mapping_checkpoint_name((enum mapping_checkpoint)9), "unknown");
	expect_error(
		OK2 "checkpoint = tf2\n",
		"t.conf:3:14: error: unknown checkpoint 'tf2' (expected 'auto', 'object-based' or 'name-based')");
	expect_error(OK2 "checkpoint = auto\ncheckpoint = auto\n",
		     "t.conf:4:1: error: duplicate 'checkpoint' (first set at line 3)");
	expect_error(
		OK2 "checkpoint =\n",
		"t.conf:3:13: error: expected 'auto', 'object-based' or 'name-based' after '=' (usage: checkpoint = auto|object-based|name-based)");
	expect_error(
		OK2 "checkpoint = auto x\n",
		"t.conf:3:19: error: unexpected 'x' after 'auto' (usage: checkpoint = auto|object-based|name-based)");
	expect_error(
		OK2 "checkpoint=auto\n",
		"t.conf:3:1: error: missing blanks around '=' in 'checkpoint=auto' (usage: checkpoint = auto|object-based|name-based)");
}

static void test_layout_names(void **state)
{
	enum mapping_layout l = MAPPING_LAYOUT_SHARDS;

	(void)state;
	assert_int_equal(mapping_layout_parse("single", &l), 0);
	assert_int_equal(l, MAPPING_LAYOUT_SINGLE);
	assert_int_equal(mapping_layout_parse("shards", &l), 0);
	assert_int_equal(l, MAPPING_LAYOUT_SHARDS);
	assert_int_equal(mapping_layout_parse("SINGLE", &l), -EINVAL);
	assert_int_equal(mapping_layout_parse("", &l), -EINVAL);
	assert_int_equal(mapping_layout_parse(NULL, &l), -EINVAL);
	assert_int_equal(l, MAPPING_LAYOUT_SHARDS);
	assert_string_equal(mapping_layout_name(MAPPING_LAYOUT_SINGLE), "single");
	assert_string_equal(mapping_layout_name(MAPPING_LAYOUT_SHARDS), "shards");
	assert_string_equal(mapping_layout_name((enum mapping_layout)7), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_example),
		cmocka_unit_test(test_parser_example_crlf_and_no_final_newline),
		cmocka_unit_test(test_parser_defaults_and_settings),
		cmocka_unit_test(test_parser_map_kinds),
		cmocka_unit_test(test_parser_dot_prefixes),
		cmocka_unit_test(test_parser_ranges),
		cmocka_unit_test(test_parser_files),
		cmocka_unit_test(test_parser_max_shard_size),
		cmocka_unit_test(test_parser_sources_resolved_after_the_file),
		cmocka_unit_test(test_parser_source_names),
		cmocka_unit_test(test_source_name_rule),
		cmocka_unit_test(test_parser_source_errors),
		cmocka_unit_test(test_parser_map_syntax_errors),
		cmocka_unit_test(test_parser_map_kind_errors),
		cmocka_unit_test(test_parser_unknown_sources),
		cmocka_unit_test(test_parser_exclude_errors),
		cmocka_unit_test(test_parser_prefix_and_layout_errors),
		cmocka_unit_test(test_parser_directive_errors),
		cmocka_unit_test(test_parser_quotes_words_short),
		cmocka_unit_test(test_parser_not_a_mapping_is_not_quoted),
		cmocka_unit_test(test_parser_nothing_to_mount),
		cmocka_unit_test(test_parser_lexical_errors),
		cmocka_unit_test(test_parser_resolved_paths),
		cmocka_unit_test(test_parser_buffer_edges),
		cmocka_unit_test(test_parser_file),
		cmocka_unit_test(test_parser_file_in_current_directory),
		cmocka_unit_test(test_parser_file_unreadable),
		cmocka_unit_test(test_diag_formats),
		cmocka_unit_test(test_diag_truncates),
		cmocka_unit_test(test_parser_checkpoint),
		cmocka_unit_test(test_layout_names),
	};

	return cmocka_run_group_tests_name("mapping_parser", tests, NULL, NULL);
}
