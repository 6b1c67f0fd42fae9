/*
 * test_view_stsource.c - safetensors sources in a view (view/st_source.c,
 * st_crc.c, files.c, safetensors.c's shards): a Hugging Face directory of
 * two shards and a .safetensors file, written here byte by byte, merged
 * with ranges, '.' prefixes and a repeated layer. The merged index holds
 * the CRC32C of each tensor's bytes; past max_shard_size the output is
 * Hugging Face's sharded layout, whose shards hold the right bytes; a
 * `file` line is served as it was; an index.json that disagrees with a
 * header is refused.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "mapping/mapping.h"
#include "safetensors/safetensors.h"
#include "util/util.h"
#include "view/view.h"
#include "tests/unit/testutil.h"

/* The 8 bytes of float32 [2] tensor `name` of a source: distinct for each. */
static void values(const char *source, const char *name, uint8_t out[8])
{
	uint32_t h = 2166136261u;

	for (const char *p = source; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(h >> (i % 4 * 8)) ^ (uint8_t)i;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* dir/file: a safetensors file of float32 [2] tensors names[0..n), in data order. */
static void write_st(const char *dir, const char *file, const char *source, const char **names,
		     size_t n)
{
	struct safetensors_tensor t[4];
	uint64_t dim = 2;
	uint8_t *hdr = NULL, buf[4096];
	size_t len = 0;
	char path[512];

	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++)
		t[i] = (struct safetensors_tensor){
			(char *)names[i], strlen(names[i]), BUNDLE_DT_FLOAT, 1, &dim, 8 * i,
			8 * i + 8
		};
	assert_int_equal(safetensors_serialize(t, n, &hdr, &len), 0);
	memcpy(buf, hdr, len);
	for (size_t i = 0; i < n; i++)
		values(source, names[i], buf + len + 8 * i);
	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, file) < (int)sizeof(path));
	write_bytes(path, buf, len + 8 * n);
	free(hdr);
}

static void write_text(const char *dir, const char *file, const char *text)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	write_bytes(path, text, strlen(text));
}

/* hf/: l.0.w in shard 1, l.1.w and l.1.b in shard 2; x.safetensors: l.0.w. */
static int setup(void **state)
{
	static const char *s1[] = { "l.0.w" }, *s2[] = { "l.1.b", "l.1.w" }, *x[] = { "l.0.w" };
	char dir[512];

	if (testutil_setup(state))
		return -1;
	snprintf(dir, sizeof(dir), "%s/hf", testutil_dir);
	if (mkdir(dir, 0755))
		return -1;
	write_st(dir, "model-00001-of-00002.safetensors", "a", s1, 1);
	write_st(dir, "model-00002-of-00002.safetensors", "a", s2, 2);
	write_text(dir, "model.safetensors.index.json",
		   "{\"metadata\": {\"total_size\": 24}, \"weight_map\": {"
		   "\"l.0.w\": \"model-00001-of-00002.safetensors\", "
		   "\"l.1.b\": \"model-00002-of-00002.safetensors\", "
		   "\"l.1.w\": \"model-00002-of-00002.safetensors\"}}");
	write_text(dir, "config.json", "{\"num_hidden_layers\": 2}\n");
	write_st(testutil_dir, "x.safetensors", "b", x, 1);
	return 0;
}

struct fx {
	struct mapping *m;
	struct view *v;
};

static int build(struct fx *f, const char *text, char *err, size_t errlen)
{
	const struct view_options opt = { .layout = -1, .format = -1 };

	f->v = NULL;
	assert_int_equal(mapping_parse_buffer("t.conf", text, strlen(text), testutil_dir, &f->m,
					      err, errlen),
			 0);
	return view_build(f->m, &opt, &f->v, err, errlen);
}

static void fx_free(struct fx *f)
{
	view_free(f->v);
	mapping_free(f->m);
}

static const char stack_text[] = "source a = hf\n"
				 "source b = x.safetensors\n"
				 "map a:l.{0..1}. -> l.{0..1}.\n"
				 "map b:l.0. -> l.2.\n"
				 "map a:l.0. -> l.3.\n"
				 "format = both\n"
				 "max_shard_size = 16B\n"
				 "file config.json = a:config.json\n";

/* Merged name -> the (source, name) whose bytes it must hold. */
static const struct want {
	const char *name, *source, *from;
} wants[] = {
	{ "l.0.w", "a", "l.0.w" }, { "l.1.b", "a", "l.1.b" }, { "l.1.w", "a", "l.1.w" },
	{ "l.2.w", "b", "l.0.w" }, { "l.3.w", "a", "l.0.w" },
};

#define N_WANTS (sizeof(wants) / sizeof(wants[0]))

static const uint8_t *file_mem(const struct view *v, const char *name, size_t *len)
{
	long i = view_lookup(v, name);

	assert_true(i >= 0);
	*len = view_file_at(v, (size_t)i)->mem_len;
	return view_file_at(v, (size_t)i)->mem;
}

static void test_index_holds_the_crcs_of_the_bytes(void **state)
{
	struct bundle_index *idx = NULL;
	struct fx f;
	char err[1024] = "";
	size_t len;
	const uint8_t *mem;

	(void)state;
	if (build(&f, stack_text, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(view_prefix(f.v), "model");
	mem = file_mem(f.v, "model.index", &len);
	assert_int_equal(bundle_index_parse("model.index", mem, len, &idx, err, sizeof(err)), 0);
	assert_int_equal(bundle_index_num_entries(idx), N_WANTS);
	for (size_t i = 0; i < N_WANTS; i++) {
		const struct bundle_entry e = bundle_index_entry_at(idx, i);
		uint8_t want[8], got[8];

		assert_int_equal(e.key_len, strlen(wants[i].name));
		assert_memory_equal(e.key, wants[i].name, e.key_len);
		values(wants[i].source, wants[i].from, want);
		assert_int_equal(e.crc32c, bundle_crc_mask(bundle_crc32c(0, want, 8)));
		assert_int_equal(view_read(f.v,
					   (size_t)view_lookup(f.v, "model.data-00000-of-00001"),
					   (uint64_t)e.offset, 8, got),
				 8);
		assert_memory_equal(got, want, 8);
	}
	bundle_index_free(idx);
	fx_free(&f);
}

/* Each shard of the safetensors output parses, and holds what the index.json says. */
static void test_sharded_output(void **state)
{
	struct safetensors_index *ix = NULL;
	struct fx f;
	char err[1024] = "";
	size_t len, seen = 0;
	const uint8_t *mem;

	(void)state;
	if (build(&f, stack_text, err, sizeof(err)))
		fail_msg("%s", err);
	mem = file_mem(f.v, "model.safetensors.index.json", &len);
	assert_int_equal(safetensors_index_parse(mem, len, "index", &ix, err, sizeof(err)), 0);
	assert_true(ix->has_total_size);
	assert_int_equal(ix->total_size, 8 * N_WANTS);
	/* 16 bytes a shard: two tensors of 8 in each but the last */
	assert_int_equal(ix->n_files, 3);
	assert_string_equal(ix->files[0], "model-00001-of-00003.safetensors");
	for (size_t k = 0; k < ix->n_files; k++) {
		long fi = view_lookup(f.v, ix->files[k]);
		const struct view_file *vf = fi >= 0 ? view_file_at(f.v, (size_t)fi) : NULL;
		struct safetensors_header *h = NULL;
		uint8_t buf[4096];
		uint64_t n = 0;

		assert_non_null(vf);
		assert_true(vf->size <= sizeof(buf));
		assert_int_equal(view_read(f.v, (size_t)fi, 0, vf->size, buf), vf->size);
		assert_int_equal(safetensors_header_len(buf, vf->size, &n, err, sizeof(err)), 0);
		assert_int_equal(
			safetensors_parse(buf + 8, n, vf->size - 8 - n, &h, err, sizeof(err)), 0);
		for (size_t t = 0; t < h->n; t++) {
			size_t w = 0;
			uint8_t want[8];

			while (w < N_WANTS && strcmp(wants[w].name, h->t[t].name))
				w++;
			assert_true(w < N_WANTS);
			assert_int_equal(ix->t[w].file, k); /* t[] is sorted as wants[] */
			values(wants[w].source, wants[w].from, want);
			assert_memory_equal(buf + 8 + n + h->t[t].begin, want, 8);
			seen++;
		}
		safetensors_header_free(h);
	}
	assert_int_equal(seen, N_WANTS);
	safetensors_index_free(ix);
	fx_free(&f);
}

static void test_file_line_is_served(void **state)
{
	static const char cfg[] = "{\"num_hidden_layers\": 2}\n";
	struct fx f;
	char err[1024] = "", buf[64];
	long i;

	(void)state;
	if (build(&f, stack_text, err, sizeof(err)))
		fail_msg("%s", err);
	i = view_lookup(f.v, "config.json");
	assert_true(i >= 0);
	assert_int_equal(view_file_at(f.v, (size_t)i)->size, strlen(cfg));
	assert_int_equal(view_read(f.v, (size_t)i, 0, sizeof(buf), buf), strlen(cfg));
	assert_memory_equal(buf, cfg, strlen(cfg));
	fx_free(&f);
}

/* format = safetensors reads no byte for CRCs, and one file when it fits. */
static void test_one_file_when_it_fits(void **state)
{
	struct fx f;
	char err[1024] = "";

	(void)state;
	if (build(&f, "source a = hf\nmap a:/ -> /\nformat = safetensors\n", err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(view_num_files(f.v), 1);
	assert_string_equal(view_file_at(f.v, 0)->name, "model.safetensors");
	fx_free(&f);
}

static void test_index_disagreeing_is_refused(void **state)
{
	char dir[512], want[2048], err[2048] = "";
	struct fx f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/bad", testutil_dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_st(dir, "model-00001-of-00001.safetensors", "c", (const char *[]){ "w" }, 1);
	write_text(dir, "model.safetensors.index.json",
		   "{\"weight_map\": {\"w\": \"model-00001-of-00001.safetensors\", "
		   "\"v\": \"model-00001-of-00001.safetensors\"}}");
	assert_int_equal(build(&f, "source a = bad\nmap a:/ -> /\n", err, sizeof(err)), -EBADMSG);
	snprintf(
		want, sizeof(want),
		"t.conf:1:12: error: source 'a': '%s/model.safetensors.index.json' names tensor 'v' in '%s/model-00001-of-00001.safetensors', whose header has no such tensor",
		dir, dir);
	assert_string_equal(err, want);
	assert_null(f.v);
	mapping_free(f.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_holds_the_crcs_of_the_bytes),
		cmocka_unit_test(test_sharded_output),
		cmocka_unit_test(test_file_line_is_served),
		cmocka_unit_test(test_one_file_when_it_fits),
		cmocka_unit_test(test_index_disagreeing_is_refused),
	};

	return cmocka_run_group_tests_name("view_stsource", tests, setup, testutil_teardown);
}
