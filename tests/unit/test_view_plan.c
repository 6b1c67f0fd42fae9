/*
 * test_view_plan.c - what view_build merges: the semantics of tensor,
 * scope and root map lines, excludes, the TF2 object graph, partitioned
 * variables, independence from line order, the synthesized .index, and
 * every plan-time diagnostic with its exact "FILE:LINE:COL: ..." text.
 * Source checkpoints are written with the bundle writer into a fresh
 * mkdtemp directory per test; tensor bytes are checked against an
 * independent bundle reader of each source.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "view/view.h"
#include "mapping/mapping.h"
#include "tests/unit/testutil.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OBJECT_GRAPH "_CHECKPOINTABLE_OBJECT_GRAPH"

/* ------------------------------------------------------------ fixtures */

static void prefix_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", testutil_dir, name);
}

static void add_u8(struct bundle_writer *w, const char *source, const char *key, size_t len)
{
	int64_t dim = (int64_t)len;
	struct bundle_entry e = {
		.key = key,
		.key_len = strlen(key),
		.dtype = BUNDLE_DT_UINT8,
		.rank = 1,
		.dims = &dim,
	};
	uint8_t *buf = malloc(len + 1);

	assert_non_null(buf);
	fixture_fill_pattern(buf, source, key, len);
	assert_int_equal(bundle_writer_add(w, &e, buf, len), 0);
	free(buf);
}

static struct bundle_writer *writer_open(const char *name)
{
	struct bundle_writer *w;
	char prefix[256], err[BUNDLE_ERR_MAX];

	prefix_path(prefix, sizeof(prefix), name);
	if (bundle_writer_open(prefix, &w, err, sizeof(err)))
		fail_msg("bundle_writer_open: %s", err);
	return w;
}

static void writer_finish(struct bundle_writer *w)
{
	char err[BUNDLE_ERR_MAX];

	if (bundle_writer_finish(w, err, sizeof(err)))
		fail_msg("bundle_writer_finish: %s", err);
	bundle_writer_free(w);
}

/* Checkpoint DIR/name of uint8 tensors, added (so laid out) in array order. */
static void write_source(const char *name, const struct fixture_tensor *s, size_t n)
{
	testutil_write_source(testutil_dir, name, s, n);
}

/* "a": the work horse; "b": overlaps a's names on purpose. */
static void write_ab(void)
{
	static const struct fixture_tensor a[] = {
		{ "enc/w", 16, 0 },
		{ "dec/w", 12, 0 },
		{ "global_step", 8, 0 },
		{ "enc/b", 8, 0 },
	};
	static const struct fixture_tensor b[] = {
		{ "dec/w", 20, 0 },
		{ "global_step", 8, 0 },
		{ "head/bias", 4, 0 },
	};

	write_source("a", a, N(a));
	write_source("b", b, N(b));
}

/* "opt": a model with Adam slots. */
static void write_opt(void)
{
	static const struct fixture_tensor s[] = {
		{ "dense/kernel", 8, 0 },        { "dense/kernel/Adam", 8, 0 },
		{ "dense/kernel/Adam_1", 8, 0 }, { "dense/bias", 4, 0 },
		{ "dense/bias/Adam", 4, 0 },     { "global_step", 8, 0 },
	};

	write_source("opt", s, N(s));
}

/* The slices of "part" in write_partitioned: two blocks of rows. */
static struct bundle_extent part_x[2][2] = {
	{ { 0, 2 }, { 0, -1 } },
	{ { 2, 2 }, { 0, -1 } },
};
static struct bundle_slice part_slices[2] = { { 2, part_x[0] }, { 2, part_x[1] } };

/* "p": "part" float32 [4, 2] partitioned in two pieces, "other" uint8 [8]. */
static void write_partitioned(void)
{
	static const float rows[2][4] = { { 1, 2, 3, 4 }, { 5, 6, 7, 8 } };
	int64_t full_dims[2] = { 4, 2 }, piece_dims[2] = { 2, 2 };
	struct bundle_entry full = {
		.key = "part",
		.key_len = 4,
		.dtype = BUNDLE_DT_FLOAT,
		.rank = 2,
		.dims = full_dims,
		.n_slices = 2,
		.slices = part_slices,
	};
	struct bundle_writer *w = writer_open("p");

	assert_int_equal(bundle_writer_add(w, &full, NULL, 0), 0);
	for (int k = 0; k < 2; k++) {
		struct bundle_entry e = { .dtype = BUNDLE_DT_FLOAT, .rank = 2, .dims = piece_dims };
		char *key;

		assert_int_equal(
			bundle_slice_key_encode("part", 4, &part_slices[k], &key, &e.key_len), 0);
		e.key = key;
		assert_int_equal(bundle_writer_add(w, &e, rows[k], sizeof(rows[k])), 0);
		free(key);
	}
	add_u8(w, "p", "other", 8);
	writer_finish(w);
}

/* "tf2": a TF2-style checkpoint with its object graph. */
static const char graph_blob[] = "\x0a\x05layer\x12\x03obj";

/*
 * The graph is a scalar: rank 0, and dims a valid pointer to no items
 * (dims NULL trips bundle/writer.c, see test_plan_scalar_source_dims_null).
 */
static void write_tf2_dims(int with_layer, int64_t *dims)
{
	const char *strs[1] = { graph_blob };
	size_t lens[1] = { sizeof(graph_blob) - 1 };
	struct bundle_entry e = { .key = OBJECT_GRAPH,
				  .key_len = strlen(OBJECT_GRAPH),
				  .dtype = BUNDLE_DT_STRING,
				  .rank = 0,
				  .dims = dims };
	struct bundle_writer *w = writer_open("tf2");
	uint8_t *enc;
	size_t enc_len;

	assert_int_equal(bundle_string_encode(strs, lens, 1, &enc, &enc_len), 0);
	assert_int_equal(bundle_writer_add(w, &e, enc, enc_len), 0);
	free(enc);
	if (with_layer) {
		add_u8(w, "tf2", "layer/kernel", 8);
		add_u8(w, "tf2", "layer/bias", 4);
	}
	writer_finish(w);
}

static void write_tf2(int with_layer)
{
	int64_t none[1] = { 0 };

	write_tf2_dims(with_layer, none);
}

/* ------------------------------------------------------ mapping + view */

static struct mapping *parse(const char *text)
{
	struct mapping *m = NULL;
	char err[1024] = "";

	if (mapping_parse_buffer("t.conf", text, strlen(text), testutil_dir, &m, err, sizeof(err)))
		fail_msg("mapping_parse_buffer: %s", err);
	return m;
}

struct fx {
	struct mapping *m;
	struct view *v;
};

static void fx_build(struct fx *f, const char *text)
{
	char err[1024] = "";

	f->m = parse(text);
	f->v = NULL;
	if (view_build(f->m, NULL, &f->v, err, sizeof(err)))
		fail_msg("view_build: %s", err);
	assert_non_null(f->v);
}

static void fx_free(struct fx *f)
{
	view_free(f->v);
	mapping_free(f->m);
	f->v = NULL;
	f->m = NULL;
}

/* view_build must fail with code and exactly the message want. */
static void expect_build_error(const char *text, int code, const char *want)
{
	struct mapping *m = parse(text);
	struct view *v = (struct view *)&m; /* must stay untouched */
	char err[1024] = "";

	assert_int_equal(view_build(m, NULL, &v, err, sizeof(err)), code);
	assert_ptr_equal(v, (struct view *)&m);
	assert_string_equal(err, want);
	mapping_free(m);
}

/* view_build must fail with code and a message that starts with head and ends with tail. */
static void expect_build_error_ends(const char *text, int code, const char *head, const char *tail)
{
	struct mapping *m = parse(text);
	struct view *v = NULL;
	char err[1024] = "";

	assert_int_equal(view_build(m, NULL, &v, err, sizeof(err)), code);
	assert_null(v);
	assert_memory_equal(err, head, strlen(head));
	assert_true(strlen(err) >= strlen(tail));
	assert_string_equal(err + strlen(err) - strlen(tail), tail);
	mapping_free(m);
}

static void tensor_at(const struct view *v, size_t i, struct view_tensor *t)
{
	assert_true(i < view_num_tensors(v));
	view_tensor_at(v, i, t);
}

/* The merged names, in order, are exactly names (no pieces expected). */
static void expect_names(const struct view *v, const char *const *names, size_t n)
{
	struct view_tensor t;

	assert_int_equal(view_num_tensors(v), n);
	for (size_t i = 0; i < n; i++) {
		tensor_at(v, i, &t);
		assert_int_equal(t.name_len, strlen(names[i]));
		assert_memory_equal(t.name, names[i], t.name_len);
		assert_string_equal(t.name, names[i]);
	}
}

/* Index of the merged tensor called name (no NULs in it). */
static size_t find_tensor(const struct view *v, const char *name)
{
	struct view_tensor t;

	for (size_t i = 0; i < view_num_tensors(v); i++) {
		tensor_at(v, i, &t);
		if (t.name_len == strlen(name) && !memcmp(t.name, name, t.name_len))
			return i;
	}
	fail_msg("no merged tensor '%s'", name);
	return 0;
}

/* Tensor name comes from source `source`, where it is called key. */
static void expect_origin(const struct view *v, const char *name, size_t source, const char *key)
{
	struct view_tensor t;

	tensor_at(v, find_tensor(v, name), &t);
	assert_int_equal(t.source, source);
	assert_int_equal(t.source_key_len, strlen(key));
	assert_memory_equal(t.source_key, key, t.source_key_len);
}

static const struct view_file *file_of_kind(const struct view *v, enum view_file_kind kind)
{
	for (size_t i = 0; i < view_num_files(v); i++)
		if (view_file_at(v, i)->kind == kind)
			return view_file_at(v, i);
	fail_msg("no file of kind %d", (int)kind);
	return NULL;
}

static size_t data_file_for(const struct view *v, const struct bundle_entry *e)
{
	char name[512];
	long i;

	if (view_layout(v) == MAPPING_LAYOUT_SINGLE)
		snprintf(name, sizeof(name), "%s.data-00000-of-00001", view_prefix(v));
	else
		snprintf(name, sizeof(name), "%s.data-%05d-of-%05zu", view_prefix(v), e->shard_id,
			 view_num_files(v) - 2);
	i = view_lookup(v, name);
	assert_true(i >= 0);
	return (size_t)i;
}

/*
 * Every merged tensor with bytes: its entry agrees with the source's own
 * index and view_read at its merged (shard, offset) gives exactly the
 * source tensor's bytes, as read by an independent reader.
 */
static void expect_bytes_match_sources(const struct view *v, const struct mapping *m)
{
	struct bundle_reader *r[8] = { 0 };
	char err[BUNDLE_ERR_MAX];

	assert_true(m->n_sources <= N(r));
	for (size_t s = 0; s < m->n_sources; s++)
		if (bundle_open(m->sources[s].resolved_path, &r[s], err, sizeof(err)))
			fail_msg("bundle_open: %s", err);
	for (size_t i = 0; i < view_num_tensors(v); i++) {
		struct view_tensor t;
		struct bundle_entry found;
		const struct bundle_entry *src;
		uint8_t *want, *got;

		tensor_at(v, i, &t);
		src = bundle_lookup(r[t.source], t.source_key, t.source_key_len, &found);
		assert_non_null(src);
		assert_int_equal(t.entry.dtype, src->dtype);
		assert_int_equal(t.entry.rank, src->rank);
		for (int d = 0; d < src->rank; d++)
			assert_int_equal(t.entry.dims[d], src->dims[d]);
		assert_int_equal(t.entry.n_slices, src->n_slices);
		assert_int_equal(t.source_entry.offset, src->offset);
		assert_int_equal(t.source_entry.shard_id, src->shard_id);
		if (src->n_slices)
			continue;
		assert_int_equal(t.entry.size, src->size);
		assert_int_equal(t.entry.crc32c, src->crc32c);
		want = malloc((size_t)src->size + 1);
		got = malloc((size_t)src->size + 1);
		assert_non_null(want);
		assert_non_null(got);
		assert_int_equal(bundle_read_tensor(r[t.source], src, want, err, sizeof(err)), 0);
		assert_int_equal(view_read(v, data_file_for(v, &t.entry), (uint64_t)t.entry.offset,
					   (size_t)src->size, got),
				 src->size);
		assert_memory_equal(got, want, (size_t)src->size);
		free(want);
		free(got);
	}
	for (size_t s = 0; s < m->n_sources; s++)
		bundle_close(r[s]);
}

static void expect_no_warnings(const struct view *v)
{
	if (view_num_warnings(v))
		fail_msg("unexpected warning: %s", view_warning(v, 0));
}

/* ------------------------------------------------------- plan semantics */

static void test_plan_tensor_rule_renames(void **state)
{
	static const char *const names[] = { "model/kernel" };
	struct view_tensor t;
	struct fx f;
	char want[256];

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "map a:enc/w -> model/kernel\n");
	expect_names(f.v, names, N(names));
	expect_origin(f.v, "model/kernel", 0, "enc/w");
	tensor_at(f.v, 0, &t);
	assert_int_equal(t.entry.dtype, BUNDLE_DT_UINT8);
	assert_int_equal(t.entry.rank, 1);
	assert_int_equal(t.entry.dims[0], 16);
	assert_int_equal(t.entry.size, 16);
	assert_int_equal(t.entry.crc32c, t.source_entry.crc32c);
	assert_int_equal(t.entry.key_len, 12);
	assert_memory_equal(t.entry.key, "model/kernel", 12);
	assert_int_equal(view_source_tensors(f.v, 0), 1);
	assert_int_equal(view_tensor_bytes(f.v), 16);
	snprintf(want, sizeof(want), "%s/a", testutil_dir);
	assert_string_equal(view_source_prefix(f.v, 0), want);
	assert_string_equal(f.m->sources[0].resolved_path, want);
	/* source_fd is the source's data shard */
	snprintf(want, sizeof(want), "%s/a.data-00000-of-00001", testutil_dir);
	{
		struct stat x, y;

		assert_int_equal(fstat(t.source_fd, &x), 0);
		assert_int_equal(stat(want, &y), 0);
		assert_int_equal(x.st_ino, y.st_ino);
		assert_int_equal(x.st_dev, y.st_dev);
	}
	expect_no_warnings(f.v);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

static void test_plan_scope_to_scope(void **state)
{
	static const char *const names[] = { "student/enc/b", "student/enc/w" };
	struct fx f;

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "map a:enc/ -> student/enc/\n");
	expect_names(f.v, names, N(names));
	expect_origin(f.v, "student/enc/b", 0, "enc/b");
	expect_origin(f.v, "student/enc/w", 0, "enc/w");
	assert_int_equal(view_source_tensors(f.v, 0), 2);
	assert_int_equal(view_tensor_bytes(f.v), 24);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

/* A scope is a name prefix ending in '/': "enc/" is not "encoder/" or "enc". */
static void test_plan_scope_matches_whole_components(void **state)
{
	static const struct fixture_tensor s[] = {
		{ "enc", 2, 0 },   { "enc.x", 3, 0 }, { "enc/a/b", 4, 0 },
		{ "enc/w", 5, 0 }, { "enc0", 6, 0 },  { "encoder/w", 7, 0 },
	};
	static const char *const names[] = { "x/a/b", "x/w" };
	struct fx f;

	(void)state;
	write_source("s", s, N(s));
	fx_build(&f, "source a = s\n"
		     "map a:enc/ -> x/\n");
	expect_names(f.v, names, N(names));
	expect_origin(f.v, "x/a/b", 0, "enc/a/b");
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

static void test_plan_root_to_scope(void **state)
{
	static const char *const names[] = { "x/dec/w", "x/enc/b", "x/enc/w", "x/global_step" };
	struct fx f;

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "map a:/ -> x/\n");
	expect_names(f.v, names, N(names));
	expect_origin(f.v, "x/global_step", 0, "global_step");
	assert_int_equal(view_source_tensors(f.v, 0), 4);
	assert_int_equal(view_tensor_bytes(f.v), 44);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

static void test_plan_scope_to_root_strips_scope(void **state)
{
	static const char *const names[] = { "b", "w" };
	struct fx f;

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "map a:enc/ -> /\n");
	expect_names(f.v, names, N(names));
	expect_origin(f.v, "b", 0, "enc/b");
	expect_origin(f.v, "w", 0, "enc/w");
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

static void test_plan_root_to_root_keeps_names(void **state)
{
	static const char *const names[] = { "dec/w", "enc/b", "enc/w", "global_step" };
	struct fx f;

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "map a:/ -> /\n");
	expect_names(f.v, names, N(names));
	for (size_t i = 0; i < N(names); i++)
		expect_origin(f.v, names[i], 0, names[i]);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

static void test_plan_two_sources_merge(void **state)
{
	static const char *const names[] = { "a/dec/w", "a/enc/b",     "a/enc/w",  "a/global_step",
					     "dec/w",   "global_step", "head/bias" };
	struct fx f;

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "source b = b\n"
		     "map a:/ -> a/\n"
		     "map b:/ -> /\n");
	expect_names(f.v, names, N(names));
	expect_origin(f.v, "a/dec/w", 0, "dec/w");
	expect_origin(f.v, "dec/w", 1, "dec/w");
	assert_int_equal(view_source_tensors(f.v, 0), 4);
	assert_int_equal(view_source_tensors(f.v, 1), 3);
	assert_int_equal(view_tensor_bytes(f.v), 44 + 32);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

/* One source tensor under two names: both appear, on the same bytes. */
static void test_plan_one_tensor_two_names_share_bytes(void **state)
{
	static const char *const names[] = { "dec/w", "enc/b", "enc/w", "global_step",
					     "head/kernel" };
	struct view_tensor x, y;
	struct fx f;

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "map a:/ -> /\n"
		     "map a:enc/w -> head/kernel\n");
	expect_names(f.v, names, N(names));
	expect_origin(f.v, "head/kernel", 0, "enc/w");
	tensor_at(f.v, find_tensor(f.v, "enc/w"), &x);
	tensor_at(f.v, find_tensor(f.v, "head/kernel"), &y);
	assert_ptr_equal(x.source_entry.key, y.source_entry.key); /* one source entry */
	assert_int_equal(x.entry.shard_id, y.entry.shard_id);
	assert_int_equal(x.entry.offset, y.entry.offset);
	assert_int_equal(x.entry.size, y.entry.size);
	assert_int_equal(x.entry.crc32c, y.entry.crc32c);
	/* shared, not copied: the data file holds the source's 44 bytes once */
	assert_int_equal(file_of_kind(f.v, VIEW_FILE_DATA)->size, 44);
	assert_int_equal(view_tensor_bytes(f.v), 60);
	assert_int_equal(view_source_tensors(f.v, 0), 5);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

static void test_plan_excludes_hide_from_root_and_scope(void **state)
{
	/* "*" also matches '/', but the glob must match the whole name */
	static const char *const names[] = {
		"b/dec/w", "b/head/bias", "dense/bias",      "dense/kernel", "dense/kernel/Adam_1",
		"k/bias",  "k/kernel",    "k/kernel/Adam_1",
	};
	struct fx f;

	(void)state;
	write_ab();
	write_opt();
	fx_build(&f, "source a = opt\n"
		     "source b = b\n"
		     "map a:/ -> /\n"
		     "map b:/ -> b/\n"
		     "map a:dense/ -> k/\n"
		     "exclude a:*/Adam\n"
		     "exclude *:global_step\n");
	expect_names(f.v, names, N(names));
	expect_origin(f.v, "k/kernel/Adam_1", 0, "dense/kernel/Adam_1");
	expect_origin(f.v, "b/head/bias", 1, "head/bias");
	expect_no_warnings(f.v);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

/* Excludes of one source leave another source's tensors of that name. */
static void test_plan_exclude_is_per_source(void **state)
{
	static const char *const names[] = { "a/dec/w", "a/enc/b",       "a/enc/w",
					     "b/dec/w", "b/global_step", "b/head/bias" };
	struct fx f;

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "source b = b\n"
		     "map a:/ -> a/\n"
		     "map b:/ -> b/\n"
		     "exclude a:global_step\n");
	expect_names(f.v, names, N(names));
	expect_no_warnings(f.v);
	fx_free(&f);
}

static void test_plan_exclude_matching_nothing_warns(void **state)
{
	static const char *const names[] = { "dec/w", "enc/b", "global_step" };
	struct fx f;

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "map a:/ -> /\n"
		     "exclude a:*/Momentum\n"
		     "  exclude *:nothing*\n"
		     "exclude a:enc/w\n"
		     "exclude a:Enc/*\n");
	expect_names(f.v, names, N(names));
	assert_int_equal(view_num_warnings(f.v), 3);
	assert_string_equal(view_warning(f.v, 0),
			    "t.conf:3:1: warning: exclude 'a:*/Momentum' matches no tensor");
	assert_string_equal(view_warning(f.v, 1),
			    "t.conf:4:3: warning: exclude '*:nothing*' matches no tensor");
	assert_string_equal(view_warning(f.v, 2),
			    "t.conf:6:1: warning: exclude 'a:Enc/*' matches no tensor");
	fx_free(&f);
}

/* An exclude that matches a tensor only some map line uses is no warning. */
static void test_plan_exclude_of_unmapped_tensor_is_silent(void **state)
{
	struct fx f;

	(void)state;
	write_ab();
	fx_build(&f, "source a = a\n"
		     "source b = b\n"
		     "map a:enc/ -> /\n"
		     "exclude b:head/bias\n");
	expect_no_warnings(f.v);
	assert_int_equal(view_num_tensors(f.v), 2);
	fx_free(&f);
}

/*
 * The identity mount of a TF2 source carries its graph as it is; any
 * other root rule reads it by object paths (test_view_objmerge.c), so a
 * graph that does not parse is an error at the source's path.
 */
static void test_plan_object_graph_carried_by_identity(void **state)
{
	static const char *const names[] = { OBJECT_GRAPH, "layer/bias", "layer/kernel" };
	struct fx f;

	(void)state;
	write_tf2(1);
	fx_build(&f, "source a = tf2\n"
		     "map a:/ -> /\n");
	expect_names(f.v, names, N(names));
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
	expect_build_error_ends("source a = tf2\n"
				"map a:/ -> m/\n",
				-EBADMSG, "t.conf:1:12: error: source 'a': '",
				"/tf2': the object graph is not a serialized TrackableObjectGraph");
}

static void test_plan_object_graph_carried_by_exact_rule(void **state)
{
	static const char *const names[] = { OBJECT_GRAPH, "m/layer/bias", "m/layer/kernel" };
	const char *strs[1] = { graph_blob };
	size_t lens[1] = { sizeof(graph_blob) - 1 };
	struct view_tensor t;
	uint8_t *enc, buf[64];
	size_t enc_len;
	struct fx f;

	(void)state;
	write_tf2(1);
	fx_build(&f, "source a = tf2\n"
		     "map a:/ -> m/\n"
		     "map a:" OBJECT_GRAPH " -> " OBJECT_GRAPH "\n");
	expect_names(f.v, names, N(names));
	tensor_at(f.v, 0, &t);
	assert_int_equal(t.entry.dtype, BUNDLE_DT_STRING);
	assert_int_equal(t.entry.rank, 0);
	assert_int_equal(bundle_string_encode(strs, lens, 1, &enc, &enc_len), 0);
	assert_int_equal(t.entry.size, enc_len);
	assert_true(enc_len <= sizeof(buf));
	assert_int_equal(view_read(f.v, data_file_for(f.v, &t.entry), (uint64_t)t.entry.offset,
				   enc_len, buf),
			 enc_len);
	assert_memory_equal(buf, enc, enc_len);
	free(enc);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

static void expect_slice(const struct bundle_slice *got, const struct bundle_slice *want)
{
	assert_int_equal(got->rank, want->rank);
	for (int d = 0; d < want->rank; d++) {
		assert_int_equal(got->extents[d].start, want->extents[d].start);
		assert_int_equal(got->extents[d].length, want->extents[d].length);
	}
}

/* A piece key decodes to name and to slice k of "part". */
static void expect_piece_key(const char *key, size_t len, const char *name, int k)
{
	struct bundle_slice s;
	char *dname;
	size_t dlen;

	assert_int_equal(bundle_slice_key_decode(key, len, &dname, &dlen, &s), 0);
	assert_int_equal(dlen, strlen(name));
	assert_memory_equal(dname, name, dlen);
	expect_slice(&s, &part_slices[k]);
	free(dname);
	free(s.extents);
}

/*
 * The pieces of partitioned `part`, renamed to name, occupy merged
 * tensors first..first+1 (0x00-led piece keys sort before names) and the
 * full entry is at full.
 */
static void expect_partitioned(const struct view *v, size_t first, size_t full, const char *name)
{
	struct view_tensor t;
	int seen[2] = { 0, 0 };

	tensor_at(v, full, &t);
	assert_int_equal(t.name_len, strlen(name));
	assert_memory_equal(t.name, name, t.name_len);
	assert_string_equal(t.source_key, "part");
	assert_int_equal(t.entry.dtype, BUNDLE_DT_FLOAT);
	assert_int_equal(t.entry.rank, 2);
	assert_int_equal(t.entry.dims[0], 4);
	assert_int_equal(t.entry.dims[1], 2);
	assert_int_equal(t.entry.n_slices, 2);
	expect_slice(&t.entry.slices[0], &part_slices[0]);
	expect_slice(&t.entry.slices[1], &part_slices[1]);
	for (size_t i = first; i < first + 2; i++) {
		struct bundle_slice s;
		char *dname;
		size_t dlen;
		int k;

		tensor_at(v, i, &t);
		assert_int_equal(t.name[0], '\0');
		assert_int_equal(t.name[t.name_len], '\0');
		assert_int_equal(bundle_slice_key_decode(t.name, t.name_len, &dname, &dlen, &s), 0);
		assert_int_equal(dlen, strlen(name));
		assert_memory_equal(dname, name, dlen);
		k = s.extents[0].start == 0 ? 0 : 1;
		expect_slice(&s, &part_slices[k]);
		seen[k]++;
		free(dname);
		free(s.extents);
		/* ... and it is that piece of the source's "part" */
		expect_piece_key(t.source_key, t.source_key_len, "part", k);
		assert_memory_equal(t.entry.key, t.name, t.name_len);
		assert_int_equal(t.entry.key_len, t.name_len);
		assert_int_equal(t.entry.dims[0], 2);
		assert_int_equal(t.entry.dims[1], 2);
		assert_int_equal(t.entry.size, 16);
		assert_int_equal(t.entry.n_slices, 0);
		assert_int_equal(t.entry.crc32c, t.source_entry.crc32c);
	}
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 1);
}

static void test_plan_partitioned_renamed_with_pieces(void **state)
{
	struct fx f;

	(void)state;
	write_partitioned();
	fx_build(&f, "source a = p\n"
		     "map a:part -> new/part\n");
	assert_int_equal(view_num_tensors(f.v), 3);
	expect_partitioned(f.v, 0, 2, "new/part");
	assert_int_equal(view_source_tensors(f.v, 0), 1);
	assert_int_equal(view_tensor_bytes(f.v), 32);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

static void test_plan_partitioned_moves_with_scope(void **state)
{
	struct fx f;

	(void)state;
	write_partitioned();
	fx_build(&f, "source a = p\n"
		     "map a:/ -> s/\n");
	assert_int_equal(view_num_tensors(f.v), 4);
	expect_partitioned(f.v, 0, 3, "s/part");
	expect_origin(f.v, "s/other", 0, "other");
	assert_int_equal(view_source_tensors(f.v, 0), 2);
	assert_int_equal(view_tensor_bytes(f.v), 40);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

/* Excluding a partitioned tensor hides its pieces as well. */
static void test_plan_partitioned_excluded_with_pieces(void **state)
{
	static const char *const names[] = { "other" };
	struct fx f;

	(void)state;
	write_partitioned();
	fx_build(&f, "source a = p\n"
		     "map a:/ -> /\n"
		     "exclude a:part\n");
	expect_names(f.v, names, N(names));
	expect_no_warnings(f.v);
	fx_free(&f);
}

/* A partitioned tensor under two names: two full entries, four pieces. */
static void test_plan_partitioned_two_names(void **state)
{
	struct fx f;

	(void)state;
	write_partitioned();
	fx_build(&f, "source a = p\n"
		     "map a:part -> x\n"
		     "map a:part -> y\n");
	assert_int_equal(view_num_tensors(f.v), 6);
	expect_partitioned(f.v, 0, 4, "x");
	expect_partitioned(f.v, 2, 5, "y");
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

/* The synthesized .index parses strictly and holds exactly the plan. */
static void expect_index_matches_view(const struct view *v, int num_shards)
{
	const struct view_file *idxf = file_of_kind(v, VIEW_FILE_INDEX);
	struct bundle_index *idx;
	char err[BUNDLE_ERR_MAX], name[512];

	snprintf(name, sizeof(name), "%s.index", view_prefix(v));
	assert_string_equal(idxf->name, name);
	if (bundle_index_parse(idxf->name, idxf->mem, (size_t)idxf->size, &idx, err, sizeof(err)))
		fail_msg("bundle_index_parse: %s", err);
	assert_int_equal(bundle_index_num_shards(idx), num_shards);
	assert_int_equal(bundle_index_num_entries(idx), view_num_tensors(v));
	for (size_t i = 0; i < view_num_tensors(v); i++) {
		const struct bundle_entry ent = bundle_index_entry_at(idx, i), *e = &ent;
		struct view_tensor t;

		tensor_at(v, i, &t);
		assert_int_equal(e->key_len, t.name_len);
		assert_memory_equal(e->key, t.name, t.name_len);
		assert_int_equal(e->dtype, t.entry.dtype);
		assert_int_equal(e->rank, t.entry.rank);
		for (int d = 0; d < e->rank; d++)
			assert_int_equal(e->dims[d], t.entry.dims[d]);
		assert_int_equal(e->n_slices, t.entry.n_slices);
		for (size_t k = 0; k < e->n_slices; k++)
			expect_slice(&e->slices[k], &t.entry.slices[k]);
		if (e->n_slices)
			continue;
		assert_int_equal(e->shard_id, t.entry.shard_id);
		assert_int_equal(e->offset, t.entry.offset);
		assert_int_equal(e->size, t.entry.size);
		assert_int_equal(e->crc32c, t.entry.crc32c);
	}
	bundle_index_free(idx);
}

static void test_plan_index_parses_and_matches_tensors(void **state)
{
	struct fx f;

	(void)state;
	write_ab();
	write_partitioned();
	write_tf2(1);
	fx_build(&f, "source a = a\n"
		     "source b = b\n"
		     "source p = p\n"
		     "source t = tf2\n"
		     "map a:/ -> a/\n"
		     "map b:dec/ -> /\n"
		     "map p:/ -> p/\n"
		     "map t:" OBJECT_GRAPH " -> " OBJECT_GRAPH "\n"
		     "map t:layer/ -> layer/\n");
	assert_int_equal(view_num_tensors(f.v), 4 + 1 + 4 + 3);
	expect_index_matches_view(f.v, 1);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

/* Index and data bytes of two views are identical. */
static void expect_same_files(const struct view *x, const struct view *y)
{
	assert_int_equal(view_num_files(x), view_num_files(y));
	for (size_t i = 0; i < view_num_files(x); i++) {
		const struct view_file *a = view_file_at(x, i), *b = view_file_at(y, i);
		uint8_t *ba, *bb;

		assert_string_equal(a->name, b->name);
		assert_int_equal(a->kind, b->kind);
		assert_int_equal(a->size, b->size);
		ba = malloc((size_t)a->size + 1);
		bb = malloc((size_t)a->size + 1);
		assert_non_null(ba);
		assert_non_null(bb);
		assert_int_equal(view_read(x, i, 0, (size_t)a->size, ba), a->size);
		assert_int_equal(view_read(y, i, 0, (size_t)a->size, bb), a->size);
		assert_memory_equal(ba, bb, (size_t)a->size);
		if (a->kind == VIEW_FILE_INDEX)
			assert_memory_equal(a->mem, b->mem, (size_t)a->size);
		free(ba);
		free(bb);
	}
}

static void test_plan_independent_of_line_order(void **state)
{
	static const char *const texts[] = {
		"source a = a\n"
		"source b = b\n"
		"source p = p\n"
		"map a:enc/ -> enc/\n"
		"map a:dec/w -> a/dec/w\n"
		"map b:/ -> b/\n"
		"map p:part -> part\n"
		"map a:enc/w -> alias/w\n"
		"exclude *:global_step\n"
		"exclude b:head/*\n"
		"prefix = merged\n",
		/* the same lines, shuffled; sources keep their relative order */
		"prefix = merged\n"
		"exclude b:head/*\n"
		"map a:enc/w -> alias/w\n"
		"source a = a\n"
		"map p:part -> part\n"
		"map b:/ -> b/\n"
		"exclude *:global_step\n"
		"source b = b\n"
		"map a:dec/w -> a/dec/w\n"
		"source p = p\n"
		"map a:enc/ -> enc/\n",
		"map a:enc/w -> alias/w\n"
		"map p:part -> part\n"
		"map b:/ -> b/\n"
		"map a:dec/w -> a/dec/w\n"
		"map a:enc/ -> enc/\n"
		"exclude b:head/*\n"
		"exclude *:global_step\n"
		"prefix = merged\n"
		"source a = a\n"
		"source b = b\n"
		"source p = p\n",
	};
	struct fx f[N(texts)];

	(void)state;
	write_ab();
	write_partitioned();
	for (size_t i = 0; i < N(texts); i++)
		fx_build(&f[i], texts[i]);
	assert_int_equal(view_num_tensors(f[0].v), 3 + 1 + 1 + 3);
	for (size_t i = 1; i < N(texts); i++) {
		const struct view_file *x = file_of_kind(f[0].v, VIEW_FILE_INDEX);
		const struct view_file *y = file_of_kind(f[i].v, VIEW_FILE_INDEX);

		assert_int_equal(x->size, y->size);
		assert_memory_equal(x->mem, y->mem, (size_t)x->size);
		expect_same_files(f[0].v, f[i].v);
	}
	for (size_t i = 0; i < N(texts); i++)
		fx_free(&f[i]);
}

/*
 * Declaring the sources in another order may move bytes around in the
 * single data file, but the merged checkpoint (names, entries, bytes) is
 * the same.
 */
static void test_plan_source_order_keeps_tensors(void **state)
{
	struct fx x, y;

	(void)state;
	write_ab();
	fx_build(&x, "source a = a\nsource b = b\n"
		     "map a:/ -> a/\nmap b:/ -> b/\n");
	fx_build(&y, "source b = b\nsource a = a\n"
		     "map a:/ -> a/\nmap b:/ -> b/\n");
	assert_int_equal(view_num_tensors(x.v), view_num_tensors(y.v));
	for (size_t i = 0; i < view_num_tensors(x.v); i++) {
		struct view_tensor s, t;

		tensor_at(x.v, i, &s);
		tensor_at(y.v, i, &t);
		assert_int_equal(s.name_len, t.name_len);
		assert_memory_equal(s.name, t.name, s.name_len);
		assert_string_equal(x.m->sources[s.source].name, y.m->sources[t.source].name);
		assert_int_equal(s.entry.crc32c, t.entry.crc32c);
		assert_int_equal(s.entry.size, t.entry.size);
	}
	expect_bytes_match_sources(x.v, x.m);
	expect_bytes_match_sources(y.v, y.m);
	fx_free(&x);
	fx_free(&y);
}

/* ---------------------------------------------------------- diagnostics */

static void test_plan_error_tensor_not_found_case(void **state)
{
	static const struct fixture_tensor s[] = {
		{ "enc/kernel", 8, 0 },
		{ "head/bias", 4, 0 },
		{ "global_step", 8, 0 },
	};

	(void)state;
	write_source("c", s, N(s));
	expect_build_error(
		"source a = c\n"
		"map a:Enc/kernel -> k\n",
		-ENOENT,
		"t.conf:2:5: error: source 'a' has no tensor 'Enc/kernel' (did you mean 'enc/kernel'?)");
}

/* The brief example: its scope "enc/" is close enough to be offered too. */
static void test_plan_error_tensor_not_found_suggests_two(void **state)
{
	static const struct fixture_tensor s[] = { { "enc/w", 8, 0 }, { "global_step", 8, 0 } };

	(void)state;
	write_source("c", s, N(s));
	expect_build_error(
		"source a = c\n"
		"\n"
		"map   a:Enc/w -> k   # typo\n",
		-ENOENT,
		"t.conf:3:7: error: source 'a' has no tensor 'Enc/w' (did you mean 'enc/w' or 'enc/'?)");
}

static void test_plan_error_tensor_not_found_no_suggestion(void **state)
{
	(void)state;
	write_ab();
	expect_build_error(
		"source a = a\n"
		"map a:completely/different/name -> k\n",
		-ENOENT, "t.conf:2:5: error: source 'a' has no tensor 'completely/different/name'");
}

/* A piece key is not a tensor a map line can name. */
static void test_plan_error_partitioned_piece_is_not_a_tensor(void **state)
{
	(void)state;
	write_partitioned();
	expect_build_error(
		"source a = p\n"
		"map a:par -> x\n",
		-ENOENT,
		"t.conf:2:5: error: source 'a' has no tensor 'par' (did you mean 'part'?)");
}

static void test_plan_error_scope_not_found_missing_slash(void **state)
{
	static const struct fixture_tensor s[] = {
		{ "encoder/dense/kernel", 8, 0 },
		{ "encoder/dense/bias", 4, 0 },
		{ "global_step", 8, 0 },
	};

	(void)state;
	write_source("d", s, N(s));
	expect_build_error(
		"source a = d\n"
		"map a:encoderdense/ -> x/\n",
		-ENOENT,
		"t.conf:2:5: error: source 'a' has no scope 'encoderdense/' (did you mean 'encoder/dense/'?)");
	expect_build_error("source a = d\n"
			   "map a:zzz/ -> x/\n",
			   -ENOENT, "t.conf:2:5: error: source 'a' has no scope 'zzz/'");
}

static void test_plan_error_target_produced_twice(void **state)
{
	(void)state;
	write_ab();
	expect_build_error(
		"source a = a\n"
		"map a:enc/ -> /\n"
		"map a:global_step -> step\n"
		"map a:dec/ -> /\n",
		-EEXIST,
		"t.conf:4:1: error: target 'w' is produced twice: by this line and by line 2");
	/* the later line is blamed, whichever rule it holds */
	expect_build_error(
		"source a = a\n"
		"map a:dec/ -> /\n"
		"map a:global_step -> step\n"
		"  map a:enc/ -> /\n",
		-EEXIST,
		"t.conf:4:3: error: target 'w' is produced twice: by this line and by line 2");
	expect_build_error(
		"source a = a\n"
		"source b = b\n"
		"map a:/ -> /\n"
		"map b:/ -> /\n",
		-EEXIST,
		"t.conf:4:1: error: target 'dec/w' is produced twice: by this line and by line 3");
	expect_build_error(
		"source a = a\n"
		"map a:enc/w -> x/w\n"
		"map a:enc/ -> x/\n",
		-EEXIST,
		"t.conf:3:1: error: target 'x/w' is produced twice: by this line and by line 2");
	/* the same rule twice is a conflict as well */
	expect_build_error(
		"source a = a\n"
		"map a:enc/w -> w\n"
		"map a:enc/w -> w\n",
		-EEXIST,
		"t.conf:3:1: error: target 'w' is produced twice: by this line and by line 2");
}

static void test_plan_error_exact_rule_on_excluded_tensor(void **state)
{
	(void)state;
	write_ab();
	expect_build_error(
		"source a = a\n"
		"map a:/ -> x/\n"
		"map a:enc/w -> kernel\n"
		"exclude a:enc/*\n",
		-ENOENT,
		"t.conf:3:5: error: tensor 'enc/w' of source 'a' is hidden by the exclude at line 4");
	expect_build_error(
		"exclude *:*/w\n"
		"source a = a\n"
		"map a:enc/w -> kernel\n",
		-ENOENT,
		"t.conf:3:5: error: tensor 'enc/w' of source 'a' is hidden by the exclude at line 1");
}

static void test_plan_error_unreadable_source(void **state)
{
	char want[1024];

	(void)state;
	write_ab();
	snprintf(
		want, sizeof(want),
		"t.conf:2:14: error: source 'b': '%s/missing': not a checkpoint ('%s/missing.index' does not exist)",
		testutil_dir, testutil_dir);
	expect_build_error("source a = a\n"
			   "source b =   missing\n"
			   "map a:/ -> /\n",
			   -ENOENT, want);
}

/* A corrupt index: the source line's PATH, then the bundle's own message. */
static void test_plan_error_corrupt_source(void **state)
{
	struct bundle_reader *r = NULL;
	char path[256], msg[BUNDLE_ERR_MAX], want[2048];
	FILE *fp;
	int rc;

	(void)state;
	write_ab();
	prefix_path(path, sizeof(path), "bad.index");
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs("this is not an sstable, not even close to one", fp);
	fclose(fp);
	prefix_path(path, sizeof(path), "bad");
	rc = bundle_open(path, &r, msg, sizeof(msg));
	assert_true(rc < 0);
	snprintf(want, sizeof(want), "t.conf:2:12: error: source 'b': %s", msg);
	expect_build_error("source a = a\n"
			   "source b = bad\n"
			   "map a:/ -> /\n",
			   rc, want);
}

static void test_plan_error_scope_all_excluded(void **state)
{
	(void)state;
	write_ab();
	expect_build_error(
		"source a = a\n"
		"map a:enc/ -> x/\n"
		"exclude a:enc/*\n",
		-ENOENT, "t.conf:2:5: error: every tensor under 'enc/' of source 'a' is excluded");
	expect_build_error("source a = a\n"
			   "map a:/ -> /\n"
			   "exclude a:*\n",
			   -ENOENT,
			   "t.conf:2:5: error: every tensor under '/' of source 'a' is excluded");
}

/* The object graph alone is "no tensors" for a root rule. */
static void test_plan_error_root_of_graph_only_source(void **state)
{
	(void)state;
	write_tf2(0);
	expect_build_error_ends("source a = tf2\n"
				"map a:/ -> x/\n",
				-EBADMSG, "t.conf:1:12: error: source 'a': '",
				"/tf2': the object graph is not a serialized TrackableObjectGraph");
}

/* Hundreds of targets (past the first growth of every table). */
static void test_plan_many_targets(void **state)
{
	static char keys[300][8];
	struct fixture_tensor s[300];
	struct fx f;

	(void)state;
	for (size_t i = 0; i < N(s); i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%03zu", i);
		s[i] = (struct fixture_tensor){ keys[i], 1 + i % 5, 0 };
	}
	write_source("many", s, N(s));
	fx_build(&f, "source a = many\n"
		     "map a:/ -> x/\n"
		     "map a:/ -> y/\n"
		     "map a:k150 -> z\n");
	assert_int_equal(view_num_tensors(f.v), 601);
	assert_int_equal(view_source_tensors(f.v, 0), 601);
	assert_int_equal(find_tensor(f.v, "x/k000"), 0);
	assert_int_equal(find_tensor(f.v, "y/k299"), 599);
	expect_origin(f.v, "z", 0, "k150");
	expect_index_matches_view(f.v, 1);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
	expect_build_error(
		"source a = many\n"
		"map a:/ -> x/\n"
		"map a:/ -> y/\n"
		"map a:k299 -> x/k299\n",
		-EEXIST,
		"t.conf:4:1: error: target 'x/k299' is produced twice: by this line and by line 2");
}

/* A directory with a `checkpoint` file and a SavedModel are sources too. */
static void test_plan_source_directory_and_saved_model(void **state)
{
	static const struct fixture_tensor s[] = { { "w", 4, 0 } };
	static const char *const names[] = { "ck/w", "sm/w" };
	char path[512], want[512];
	FILE *fp;
	struct fx f;

	(void)state;
	snprintf(path, sizeof(path), "%s/ckdir", testutil_dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sm", testutil_dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sm/variables", testutil_dir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_source("ckdir/model-7", s, N(s));
	write_source("sm/variables/variables", s, N(s));
	snprintf(path, sizeof(path), "%s/ckdir/checkpoint", testutil_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("model_checkpoint_path: \"model-7\"\n"
	      "all_model_checkpoint_paths: \"model-7\"\n",
	      fp);
	fclose(fp);
	fx_build(&f, "source c = ckdir\n"
		     "source m = sm\n"
		     "map c:/ -> ck/\n"
		     "map m:/ -> sm/\n");
	expect_names(f.v, names, N(names));
	snprintf(want, sizeof(want), "%s/ckdir/model-7", testutil_dir);
	assert_string_equal(view_source_prefix(f.v, 0), want);
	snprintf(want, sizeof(want), "%s/sm/variables/variables", testutil_dir);
	assert_string_equal(view_source_prefix(f.v, 1), want);
	fx_free(&f);
}

/* Partitioned pieces keep their place in the shards layout too. */
static void test_plan_partitioned_in_shards_layout(void **state)
{
	struct view_tensor t;
	struct fx f;

	(void)state;
	write_ab();
	write_partitioned();
	fx_build(&f, "source a = a\n"
		     "source p = p\n"
		     "map p:part -> q\n"
		     "map a:enc/ -> a/\n"
		     "layout = shards\n");
	assert_int_equal(view_num_tensors(f.v), 5);
	expect_partitioned(f.v, 0, 4, "q");
	for (size_t i = 0; i < 2; i++) {
		tensor_at(f.v, i, &t);
		assert_int_equal(t.entry.shard_id, 1);
		assert_int_equal(t.entry.offset, t.source_entry.offset);
	}
	expect_index_matches_view(f.v, 2);
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

/*
 * BUG (view/plan.c map_scope): "map a:enc/ -> /" on a source that has a
 * tensor called exactly "enc/" makes a target with an empty name. Nothing
 * in the plan rejects it; the index builder then fails with "index keys
 * must be unique and added in increasing order", which names no line.
 * Every build error must be "FILE:LINE:COL: error: ..." (mapping.md).
 */
static void test_plan_error_scope_strip_to_empty_name(void **state)
{
	static const struct fixture_tensor s[] = { { "enc/", 4, 0 }, { "enc/w", 4, 0 } };
	struct mapping *m;
	struct view *v = NULL;
	char err[1024] = "";
	int rc;

	(void)state;
	write_source("e", s, N(s));
	m = parse("source a = e\n"
		  "map a:enc/ -> /\n");
	rc = view_build(m, NULL, &v, err, sizeof(err));
	view_free(rc ? NULL : v);
	mapping_free(m);
	assert_true(rc < 0);
	if (strncmp(err, "t.conf:2:", 9) || !strstr(err, "'enc/'"))
		fail_msg("want an error at line 2 naming 'enc/', got: %s", err);
}

/*
 * BUG (bundle/writer.c:122, push): a scalar entry with rank 0 and dims
 * NULL (nothing to copy) reaches memcpy(c->dims, NULL, 0), undefined
 * behaviour that -fsanitize=undefined reports and, with
 * -fno-sanitize-recover, aborts on. Passes in a plain build.
 */
static void test_plan_scalar_source_dims_null(void **state)
{
	static const char *const names[] = { OBJECT_GRAPH };
	struct fx f;

	(void)state;
	write_tf2_dims(0, NULL);
	fx_build(&f, "source a = tf2\n"
		     "map a:" OBJECT_GRAPH " -> " OBJECT_GRAPH "\n");
	expect_names(f.v, names, N(names));
	expect_bytes_match_sources(f.v, f.m);
	fx_free(&f);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, testutil_setup, testutil_teardown)
	const struct CMUnitTest tests[] = {
		T(test_plan_tensor_rule_renames),
		T(test_plan_scope_to_scope),
		T(test_plan_scope_matches_whole_components),
		T(test_plan_root_to_scope),
		T(test_plan_scope_to_root_strips_scope),
		T(test_plan_root_to_root_keeps_names),
		T(test_plan_two_sources_merge),
		T(test_plan_one_tensor_two_names_share_bytes),
		T(test_plan_excludes_hide_from_root_and_scope),
		T(test_plan_exclude_is_per_source),
		T(test_plan_exclude_matching_nothing_warns),
		T(test_plan_exclude_of_unmapped_tensor_is_silent),
		T(test_plan_object_graph_carried_by_identity),
		T(test_plan_object_graph_carried_by_exact_rule),
		T(test_plan_partitioned_renamed_with_pieces),
		T(test_plan_partitioned_moves_with_scope),
		T(test_plan_partitioned_excluded_with_pieces),
		T(test_plan_partitioned_two_names),
		T(test_plan_index_parses_and_matches_tensors),
		T(test_plan_independent_of_line_order),
		T(test_plan_source_order_keeps_tensors),
		T(test_plan_error_tensor_not_found_case),
		T(test_plan_error_tensor_not_found_suggests_two),
		T(test_plan_error_tensor_not_found_no_suggestion),
		T(test_plan_error_partitioned_piece_is_not_a_tensor),
		T(test_plan_error_scope_not_found_missing_slash),
		T(test_plan_error_target_produced_twice),
		T(test_plan_error_exact_rule_on_excluded_tensor),
		T(test_plan_error_unreadable_source),
		T(test_plan_error_corrupt_source),
		T(test_plan_error_scope_all_excluded),
		T(test_plan_error_root_of_graph_only_source),
		T(test_plan_many_targets),
		T(test_plan_source_directory_and_saved_model),
		T(test_plan_partitioned_in_shards_layout),
		T(test_plan_error_scope_strip_to_empty_name),
		/* last: under UBSan it aborts the whole program */
		T(test_plan_scalar_source_dims_null),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
