/*
 * test_view_safetensors.c - PREFIX.safetensors of a view of a source
 * written here with the bundle writer (the header's codec is tested in
 * test_safetensors_codec.c): the exact header (order by dtype then name,
 * offsets, escaping), the bytes of every tensor read back through
 * view_read and view_map_range, partitioned variables split along the
 * first and along another dimension as one tensor each (overlapping
 * pieces left out), the left-out warning, strict, which files each
 * format shows, and the header held once (the memfd it is served from).
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
#include <cmocka.h>
#include <sys/stat.h>

#include "bundle/bundle.h"
#include "mapping/mapping.h"
#include "util/util.h"
#include "view/view.h"
#include "tests/unit/testutil.h"

/* ---------------------------------------------------------- a real view */

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define Q_KEY "q\"\\\x01\n" /* a name that needs every kind of escape */

static void add(struct bundle_writer *w, const char *key, size_t key_len, int dtype, int rank,
		int64_t *dims, const void *data, size_t len)
{
	struct bundle_entry e = {
		.key = key, .key_len = key_len, .dtype = dtype, .rank = rank, .dims = dims
	};

	assert_int_equal(bundle_writer_add(w, &e, data, len), 0);
}

static void add_piece(struct bundle_writer *w, const char *name, int64_t *full, int rank,
		      struct bundle_extent *ext, int64_t *dims, const void *data, size_t len)
{
	struct bundle_slice sl = { rank, ext };
	char *key;
	size_t key_len;

	(void)full;
	assert_int_equal(bundle_slice_key_encode(name, strlen(name), &sl, &key, &key_len), 0);
	add(w, key, key_len, BUNDLE_DT_FLOAT, rank, dims, data, len);
	free(key);
}

static float p_val[8] = { 0, 1, 2, 3, 4, 5, 6, 7 }; /* "p" [4,2], rows 0 | 1-3 */
static float c_val[8] = { 9, 8, 7, 6, 5, 4, 3, 2 }; /* "c" [2,4], cols 0-1 | 2-3 */
static double d_val[1] = { 2.5 };
static uint16_t h_val[3] = { 0x3c00, 0x4000, 0xbc00 };
static float q_val[2] = { -1.5f, 1e30f };
static uint8_t u_val[3] = { 1, 2, 255 };

static void write_mixed(void)
{
	char prefix[4096], err[BUNDLE_ERR_MAX];
	struct bundle_writer *w;
	int64_t p_dims[2] = { 4, 2 }, c_dims[2] = { 2, 4 }, one = 1, three = 3, two = 2;
	int64_t p0[2] = { 1, 2 }, p1[2] = { 3, 2 }, cpiece[2] = { 2, 2 };
	struct bundle_extent pe0[2] = { { 0, 1 }, { 0, -1 } }, pe1[2] = { { 1, 3 }, { 0, -1 } };
	struct bundle_extent ce0[2] = { { 0, -1 }, { 0, 2 } }, ce1[2] = { { 0, -1 }, { 2, 2 } };
	struct bundle_extent *pslices[2] = { pe0, pe1 }, *cslices[2] = { ce0, ce1 };
	struct bundle_slice ps[2] = { { 2, pslices[0] }, { 2, pslices[1] } };
	struct bundle_slice cs[2] = { { 2, cslices[0] }, { 2, cslices[1] } };
	float c0[4] = { 9, 8, 5, 4 }, c1[4] = { 7, 6, 3, 2 };
	int64_t o_dims[2] = { 2, 2 }, o0[2] = { 1, 2 };
	struct bundle_extent oe0[2] = { { 0, 1 }, { 0, -1 } }, oe1[2] = { { 0, 2 }, { 0, -1 } };
	struct bundle_slice os[2] = { { 2, oe0 }, { 2, oe1 } };
	const char *strs[1] = { "text" };
	size_t str_len[1] = { 4 }, enc_len;
	uint8_t *enc;
	struct bundle_entry e;

	snprintf(prefix, sizeof(prefix), "%s/s", testutil_dir);
	assert_int_equal(bundle_writer_open(prefix, &w, err, sizeof(err)), 0);
	/* piece keys begin with NUL: first in key order ("c" before "p") */
	add_piece(w, "c", c_dims, 2, ce0, cpiece, c0, sizeof(c0));
	add_piece(w, "c", c_dims, 2, ce1, cpiece, c1, sizeof(c1));
	add_piece(w, "p", p_dims, 2, pe0, p0, p_val, 2 * sizeof(float));
	add_piece(w, "p", p_dims, 2, pe1, p1, p_val + 2, 6 * sizeof(float));
	e = (struct bundle_entry){ .key = "c",
				   .key_len = 1,
				   .dtype = BUNDLE_DT_FLOAT,
				   .rank = 2,
				   .dims = c_dims,
				   .n_slices = 2,
				   .slices = cs };
	assert_int_equal(bundle_writer_add(w, &e, NULL, 0), 0);
	add(w, "d", 1, BUNDLE_DT_DOUBLE, 1, &one, d_val, sizeof(d_val));
	add(w, "f16", 3, BUNDLE_DT_HALF, 1, &three, h_val, sizeof(h_val));
	e = (struct bundle_entry){ .key = "p",
				   .key_len = 1,
				   .dtype = BUNDLE_DT_FLOAT,
				   .rank = 2,
				   .dims = p_dims,
				   .n_slices = 2,
				   .slices = ps };
	assert_int_equal(bundle_writer_add(w, &e, NULL, 0), 0);
	add(w, Q_KEY, strlen(Q_KEY), BUNDLE_DT_FLOAT, 1, &two, q_val, sizeof(q_val));
	assert_int_equal(bundle_string_encode(strs, str_len, 1, &enc, &enc_len), 0);
	add(w, "str", 3, BUNDLE_DT_STRING, 1, &one, enc, enc_len);
	free(enc);
	add(w, "u8", 2, BUNDLE_DT_UINT8, 1, &three, u_val, sizeof(u_val));
	/* "o" [2,2]: rows 0 and rows 0-1, which overlap */
	add_piece(w, "o", o_dims, 2, oe0, o0, p_val, 2 * sizeof(float));
	add_piece(w, "o", o_dims, 2, oe1, o_dims, p_val, 4 * sizeof(float));
	e = (struct bundle_entry){ .key = "o",
				   .key_len = 1,
				   .dtype = BUNDLE_DT_FLOAT,
				   .rank = 2,
				   .dims = o_dims,
				   .n_slices = 2,
				   .slices = os };
	assert_int_equal(bundle_writer_add(w, &e, NULL, 0), 0);
	assert_int_equal(bundle_writer_finish(w, err, sizeof(err)), 0);
	bundle_writer_free(w);
}

static const char mixed_text[] = "source s = s\nmap s:/ -> /\n";

struct fx {
	struct mapping *m;
	struct view *v;
};

static int build(struct fx *f, const char *text, int format, int strict, char *err, size_t errlen)
{
	struct view_options opt = { .layout = -1, .format = format, .strict = strict };

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

static long st_file(const struct view *v)
{
	for (size_t i = 0; i < view_num_files(v); i++)
		if (view_file_at(v, i)->kind == VIEW_FILE_SAFETENSORS)
			return (long)i;
	return -1;
}

static const char want_json[] =
	"{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
	"\"c\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[8,40]},"
	"\"p\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[40,72]},"
	"\"q\\\"\\\\\\u0001\\n\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[72,80]},"
	"\"f16\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[80,86]},"
	"\"u8\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[86,89]}}";
#define DATA_LEN 89

static void test_st_view_header_and_bytes(void **state)
{
	struct fx f;
	char err[1024] = "";
	size_t hdr = (sizeof(want_json) - 1 + 7) / 8 * 8 + 8, n;
	uint8_t *buf;
	long i;
	const struct view_file *file;
	struct view_piece pieces[16];

	(void)state;
	write_mixed();
	assert_int_equal(build(&f, mixed_text, MAPPING_FORMAT_BOTH, 0, err, sizeof(err)), 0);
	i = st_file(f.v);
	assert_true(i >= 0);
	file = view_file_at(f.v, (size_t)i);
	assert_string_equal(file->name, "model.ckpt.safetensors");
	assert_int_equal(view_lookup(f.v, "model.ckpt.index") >= 0, 1);
	assert_int_equal(file->size, hdr + DATA_LEN);
	assert_int_equal(file->mem_len, hdr);
	buf = malloc(file->size + 1);
	assert_int_equal(view_read(f.v, (size_t)i, 0, file->size + 100, buf), file->size);
	assert_memory_equal(buf, file->mem, hdr);
	assert_int_equal(le64(buf), hdr - 8);
	assert_memory_equal(buf + 8, want_json, sizeof(want_json) - 1);
	for (size_t k = 8 + sizeof(want_json) - 1; k < hdr; k++)
		assert_int_equal(buf[k], ' ');
	assert_memory_equal(buf + hdr, d_val, 8);
	assert_memory_equal(buf + hdr + 8, c_val, 32);  /* runs of both pieces, row by row */
	assert_memory_equal(buf + hdr + 40, p_val, 32); /* the two pieces, in row order */
	assert_memory_equal(buf + hdr + 72, q_val, 8);
	assert_memory_equal(buf + hdr + 80, h_val, 6);
	assert_memory_equal(buf + hdr + 86, u_val, 3);
	/* a read that straddles header and data: the header from its memfd */
	assert_int_equal(
		view_map_range(f.v, (size_t)i, hdr - 4, 12, pieces, ARRAY_SIZE(pieces), &n), 0);
	assert_true(n >= 2);
	assert_int_equal(pieces[0].len, 4);
	assert_int_equal(view_read(f.v, (size_t)i, hdr - 4, 12, buf), 12);
	assert_memory_equal(buf + 4, d_val, 8);
	/* the left-out tensors, in one warning */
	assert_int_equal(view_num_warnings(f.v), 1);
	assert_non_null(
		strstr(view_warning(f.v, 0),
		       "2 tensor(s) left out of the .safetensors file, which cannot hold them: "
		       "'o' (pieces that overlap or leave holes), 'str' (string)"));
	free(buf);
	fx_free(&f);
}

static void test_st_view_formats(void **state)
{
	struct fx f;
	char err[1024] = "";

	(void)state;
	write_mixed();
	assert_int_equal(build(&f, mixed_text, MAPPING_FORMAT_SAFETENSORS, 0, err, sizeof(err)), 0);
	assert_int_equal(view_num_files(f.v), 1);
	assert_string_equal(view_file_at(f.v, 0)->name, "model.ckpt.safetensors");
	assert_int_equal(view_lookup(f.v, "checkpoint"), -1);
	view_compact(f.v); /* the daemon serves a compacted view */
	assert_int_equal(view_read(f.v, 0, view_file_at(f.v, 0)->mem_len, 8, err), 8);
	assert_memory_equal(err, d_val, 8);
	fx_free(&f);

	assert_int_equal(build(&f, mixed_text, MAPPING_FORMAT_TENSORFLOW, 0, err, sizeof(err)), 0);
	assert_int_equal(st_file(f.v), -1);
	assert_int_equal(view_num_warnings(f.v), 0);
	fx_free(&f);

	/* -1: the mapping's `format` line */
	assert_int_equal(build(&f, "source s = s\nmap s:d -> d\nformat = safetensors\n", -1, 0, err,
			       sizeof(err)),
			 0);
	assert_int_equal(view_num_files(f.v), 1);
	assert_int_equal(view_file_at(f.v, 0)->size, 8 + 56 + 8);
	fx_free(&f);

	/* a renamed partitioned variable: its pieces are found under the new name */
	assert_int_equal(build(&f, "source s = s\nmap s:c -> x/c\n", MAPPING_FORMAT_SAFETENSORS, 1,
			       err, sizeof(err)),
			 0);
	{
		const struct view_file *fl = view_file_at(f.v, 0);
		uint8_t got[32];

		assert_int_equal(fl->size, fl->mem_len + 32);
		assert_non_null(memmem(fl->mem, fl->mem_len, "\"x/c\":{\"dtype\":\"F32\"", 20));
		assert_int_equal(view_read(f.v, 0, fl->mem_len, 32, got), 32);
		assert_memory_equal(got, c_val, 32);
	}
	fx_free(&f);
}

/*
 * The inode of the file mapped at p (/proc/self/maps), if its name holds
 * name; 0 if p is not in such a mapping (the heap, say).
 */
static unsigned long mapped_inode(const void *p, const char *name)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[4096];
	unsigned long ino = 0;

	assert_non_null(maps);
	while (!ino && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi, i;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &i) == 3 &&
		    (uintptr_t)p >= lo && (uintptr_t)p < hi && strstr(line, name))
			ino = i;
	}
	fclose(maps);
	return ino;
}

static void test_st_view_holds_the_header_once(void **state)
{
	const char *memfd = "memfd:ckptfs-safetensors-header";
	struct fx f;
	char err[1024] = "";
	const struct view_file *file;
	struct view_piece piece;
	struct stat st;
	unsigned long ino;
	size_t n;

	(void)state;
	write_mixed();
	assert_int_equal(build(&f, mixed_text, MAPPING_FORMAT_SAFETENSORS, 0, err, sizeof(err)), 0);
	view_compact(f.v); /* as the daemon holds it */
	file = view_file_at(f.v, 0);
	/* the bytes at mem are the memfd's pages the reads are served from */
	ino = mapped_inode(file->mem, memfd);
	assert_int_not_equal(ino, 0);
	assert_int_equal(view_map_range(f.v, 0, 0, 8, &piece, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fstat(piece.fd, &st), 0);
	assert_int_equal(st.st_ino, ino);
	assert_int_equal(le64(file->mem), file->mem_len - 8);
	fx_free(&f);
}

static void test_st_view_strict(void **state)
{
	struct fx f;
	char err[1024] = "";

	(void)state;
	write_mixed();
	assert_int_equal(
		build(&f, "source s = s\nmap s:/ -> /\nformat = both\n", -1, 1, err, sizeof(err)),
		-ENOTSUP);
	assert_null(f.v);
	assert_string_equal(err, "t.conf:3:1: error: 2 tensor(s) cannot be stored in safetensors: "
				 "'o' (pieces that overlap or leave holes), 'str' (string)");
	mapping_free(f.m);
	/* strict without anything left out is no error */
	assert_int_equal(
		build(&f, "source s = s\nmap s:p -> p\nformat = both\n", -1, 1, err, sizeof(err)),
		0);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_st_view_header_and_bytes),
		cmocka_unit_test(test_st_view_formats),
		cmocka_unit_test(test_st_view_holds_the_header_once),
		cmocka_unit_test(test_st_view_strict),
	};

	return cmocka_run_group_tests(tests, testutil_setup, testutil_teardown);
}
