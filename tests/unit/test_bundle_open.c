/*
 * test_bundle_open.c - opening a checkpoint's files against hostile input
 * (bundle/openfile.c, resolve.c, reader.c, table_read.c): FIFOs refused
 * without blocking, BUNDLE_OPEN_PUBLIC refusing what not every user could
 * read (mode, directories, symlinks, the state file), the index read block
 * by block from its fd (same result as from memory, bounded by the file's
 * size), shards opened one by one, state files capped, and errors that say
 * what happened (a symlink loop is not "does not exist").
 */
#include <errno.h>
#include <fcntl.h>
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
#include "bundle/internal.h"
#include "bundle/table.h"
#include "tests/unit/testutil.h"

static char path[512];

static const char *at(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", testutil_dir, name);
	return path;
}

static int setup(void **state)
{
	/* BUNDLE_OPEN_PUBLIC needs a way in for everyone; mkdtemp gives 0700 */
	return testutil_setup(state) == 0 && chmod(testutil_dir, 0755) == 0 ? 0 : -1;
}

static void write_file(const char *p, const void *buf, size_t len, mode_t mode)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
}

static void expect_msg(const char *err, const char *frag)
{
	if (!strstr(err, frag))
		fail_msg("message '%s' lacks '%s'", err, frag);
}

static const struct fixture_tensor tensors[] = {
	{ "a", 100, 0 },
	{ "b", 3000, 0 },
};

/* ------------------------------------------------------- bundle_open_file */

static void test_open_file_regular_only_and_never_blocking(void **state)
{
	char err[BUNDLE_ERR_MAX];
	int64_t size = -1;
	int fd;

	(void)state;
	write_file(at("f"), "12345", 5, 0644);
	fd = bundle_open_file(at("f"), "index", 0, &size, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(size, 5);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	/* a FIFO with no writer: refused at once (open would block without O_NONBLOCK) */
	assert_int_equal(mkfifo(at("fifo"), 0644), 0);
	assert_int_equal(bundle_open_file(at("fifo"), "data shard", 0, &size, err, sizeof(err)),
			 -EINVAL);
	expect_msg(err, "fifo': cannot open data shard: not a regular file (a FIFO)");
	assert_int_equal(bundle_open_file("/dev/null", "index", 0, &size, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(
		err, "'/dev/null': cannot open index: not a regular file (a character device)");
	assert_int_equal(bundle_open_file(testutil_dir, "index", 0, &size, err, sizeof(err)),
			 -EISDIR);
	expect_msg(err, "cannot open index: not a regular file (a directory)");
	assert_int_equal(bundle_open_file(at("none"), "index", 0, &size, err, sizeof(err)),
			 -ENOENT);
	expect_msg(err, "none': cannot open index: No such file or directory");
	assert_int_equal(size, 5); /* untouched on failure */
}

static void test_open_file_public(void **state)
{
	char err[BUNDLE_ERR_MAX], want[2048], priv[256], secret[300], real[512];
	int64_t size;
	int fd;

	(void)state;
	/* readable by others, in directories others may enter: fine */
	write_file(at("pub"), "x", 1, 0644);
	fd = bundle_open_file(at("pub"), "index", BUNDLE_OPEN_PUBLIC, &size, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);

	/* the file's own mode */
	write_file(at("p0640"), "x", 1, 0640);
	assert_int_equal(bundle_open_file(at("p0640"), "data shard", BUNDLE_OPEN_PUBLIC, &size, err,
					  sizeof(err)),
			 -EACCES);
	snprintf(
		want, sizeof(want),
		"'%s/p0640': this data shard is not readable by every user (mode 0640), and allow_other would show it to all: chmod o+r '%s/p0640', or mount without allow_other",
		testutil_dir, testutil_dir);
	assert_string_equal(err, want);
	/* without the flag, the same file opens */
	fd = bundle_open_file(at("p0640"), "data shard", 0, &size, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);

	/* a readable file in a directory others may not enter, reached by a symlink */
	snprintf(priv, sizeof(priv), "%s/private", testutil_dir);
	assert_int_equal(mkdir(priv, 0700), 0);
	snprintf(secret, sizeof(secret), "%s/secret", priv);
	write_file(secret, "secret", 6, 0644);
	assert_int_equal(symlink(secret, at("link")), 0);
	assert_int_equal(
		bundle_open_file(at("link"), "index", BUNDLE_OPEN_PUBLIC, &size, err, sizeof(err)),
		-EACCES);
	snprintf(
		want, sizeof(want),
		"'%s/link' (really '%s'): this index is in '%s', which not every user may enter (mode 0700), and allow_other would show it to all: chmod o+x '%s', or mount without allow_other",
		testutil_dir, secret, priv, priv);
	assert_string_equal(err, want);

	/* the symlink's own place does not matter: only where the file is */
	assert_int_equal(chmod(priv, 0711), 0);
	fd = bundle_open_file(at("link"), "index", BUNDLE_OPEN_PUBLIC, &size, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(secret, 0600), 0);
	assert_int_equal(
		bundle_open_file(at("link"), "index", BUNDLE_OPEN_PUBLIC, &size, err, sizeof(err)),
		-EACCES);
	snprintf(real, sizeof(real),
		 "(really '%s'): this index is not readable by every user (mode 0600)", secret);
	expect_msg(err, real);
}

/* ----------------------------------------------------- the state file */

static void write_state(const char *d, const char *text, mode_t mode)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/checkpoint", d);
	unlink(p);
	write_file(p, text, strlen(text), mode);
}

static void test_state_file_public_fifo_and_cap(void **state)
{
	char err[BUNDLE_ERR_MAX], ck[300], sub[256], *p = NULL;
	struct bundle_reader *r;
	int fd;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/sd", testutil_dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	testutil_write_source(sub, "m", tensors, 2);
	snprintf(ck, sizeof(ck), "%s/checkpoint", sub);

	write_state(sub, "model_checkpoint_path: \"m\"\n", 0600);
	assert_int_equal(bundle_open(sub, &r, err, sizeof(err)), 0);
	bundle_close(r);
	assert_int_equal(bundle_open_flags(sub, BUNDLE_OPEN_PUBLIC, &r, err, sizeof(err)), -EACCES);
	expect_msg(
		err,
		"/sd/checkpoint': this 'checkpoint' state file is not readable by every user (mode 0600)");
	write_state(sub, "model_checkpoint_path: \"m\"\n", 0644);
	assert_int_equal(bundle_open_flags(sub, BUNDLE_OPEN_PUBLIC, &r, err, sizeof(err)), 0);
	assert_int_equal(bundle_num_entries(r), 2);
	bundle_close(r);

	/* a FIFO: refused, not waited on */
	unlink(ck);
	assert_int_equal(mkfifo(ck, 0644), 0);
	assert_int_equal(bundle_resolve_prefix(sub, &p, err, sizeof(err)), -EINVAL);
	expect_msg(
		err,
		"/sd/checkpoint': cannot open 'checkpoint' state file: not a regular file (a FIFO)");
	unlink(ck);

	/* over 1 MiB (sparse): refused after reading at most the cap */
	fd = open(ck, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "model_checkpoint_path: \"m\"\n", 27), 27);
	assert_int_equal(ftruncate(fd, (1 << 20) + 1), 0);
	close(fd);
	assert_int_equal(bundle_resolve_prefix(sub, &p, err, sizeof(err)), -EFBIG);
	expect_msg(
		err,
		"/sd/checkpoint': 'checkpoint' state file is larger than 1 MiB: not a TensorFlow state file");
	/* exactly 1 MiB: read, and the path found */
	assert_int_equal(truncate(ck, 1 << 20), 0);
	assert_int_equal(bundle_resolve_prefix(sub, &p, err, sizeof(err)), 0);
	expect_msg(p, "/sd/m");
	free(p);

	/* no state file at all: not an error, the directory is just not a checkpoint */
	unlink(ck);
	assert_int_equal(bundle_resolve_prefix(sub, &p, err, sizeof(err)), -ENOENT);
	expect_msg(err, "no checkpoint here");
}

/* ------------------------------------------------------- clear errors */

static void test_loops_are_not_missing_files(void **state)
{
	char err[BUNDLE_ERR_MAX], want[1200], *p = NULL;

	(void)state;
	assert_int_equal(symlink("loop", at("loop")), 0);
	assert_int_equal(bundle_resolve_prefix(at("loop"), &p, err, sizeof(err)), -ELOOP);
	snprintf(want, sizeof(want), "'%s/loop': cannot access: Too many levels of symbolic links",
		 testutil_dir);
	assert_string_equal(err, want);
	assert_int_equal(symlink("l.index", at("l.index")), 0);
	assert_int_equal(bundle_resolve_prefix(at("l"), &p, err, sizeof(err)), -ELOOP);
	snprintf(want, sizeof(want),
		 "'%s/l': cannot access '%s/l.index': Too many levels of symbolic links",
		 testutil_dir, testutil_dir);
	assert_string_equal(err, want);
	/* a dangling link, like a missing file, is "does not exist" */
	assert_int_equal(symlink("nowhere.index", at("d.index")), 0);
	assert_int_equal(bundle_resolve_prefix(at("d"), &p, err, sizeof(err)), -ENOENT);
	expect_msg(err, "d.index' does not exist");
}

/*
 * A file people take for a checkpoint is named for what it is (Keras 3
 * weights, a .keras archive); any other file is "not a checkpoint", and so
 * is one BUNDLE_OPEN_PUBLIC may not read (nothing is learnt of it).
 */
static void test_foreign_files_are_named(void **state)
{
	static const char h5[] = "\x89HDF\r\n\x1a\n\0\0\0\0";
	char err[BUNDLE_ERR_MAX], want[1200], *p = NULL;

	(void)state;
	write_file(at("model.weights.h5"), h5, sizeof(h5) - 1, 0644);
	assert_int_equal(bundle_resolve_prefix(at("model.weights.h5"), &p, err, sizeof(err)),
			 -ENOENT);
	snprintf(
		want, sizeof(want),
		"'%s/model.weights.h5' is an HDF5 file (Keras 3 weights, as model.save_weights writes them), not a TensorFlow checkpoint: tf.train.Checkpoint(model=model).write(PATH) saves one ckptfs reads",
		testutil_dir);
	assert_string_equal(err, want);
	write_file(at("m.keras"), "PK\x03\x04\x14\0\0\0", 8, 0644);
	assert_int_equal(bundle_resolve_prefix(at("m.keras"), &p, err, sizeof(err)), -ENOENT);
	expect_msg(
		err,
		"m.keras' is a ZIP archive (a Keras 3 model, as model.save writes it), not a TensorFlow checkpoint");
	write_file(at("short.h5"), h5, 4, 0644);
	assert_int_equal(bundle_resolve_prefix(at("short.h5"), &p, err, sizeof(err)), -ENOENT);
	expect_msg(err, "short.h5': not a checkpoint ('");
	write_file(at("private.h5"), h5, sizeof(h5) - 1, 0600);
	assert_int_equal(bundle_resolve_prefix_flags(at("private.h5"), BUNDLE_OPEN_PUBLIC, &p, err,
						     sizeof(err)),
			 -ENOENT);
	expect_msg(err, "private.h5': not a checkpoint ('");
	assert_null(p);
}

/* ---------------------------------------------------- index and shards */

static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void expect_same_contents(const struct table_contents *a, const struct table_contents *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->kvs[i].key_len, b->kvs[i].key_len);
		assert_memory_equal(a->kvs[i].key, b->kvs[i].key, a->kvs[i].key_len);
		assert_int_equal(a->kvs[i].val_len, b->kvs[i].val_len);
		assert_memory_equal(a->kvs[i].val, b->kvs[i].val, a->kvs[i].val_len);
	}
}

/* Parse p from memory and from its fd: the same pairs, or the same error. */
static int read_both(const char *p, uint64_t fd_len, char *err, size_t errlen)
{
	struct table_contents m = { 0 }, f = { 0 };
	char err2[BUNDLE_ERR_MAX];
	size_t len;
	uint8_t *buf = slurp(p, &len);
	int fd = open(p, O_RDONLY), rc_m, rc_f;

	assert_true(fd >= 0);
	rc_m = table_read_all(p, buf, len, &m, err2, sizeof(err2));
	rc_f = table_read_fd(p, fd, fd_len ? fd_len : len, &f, err, errlen);
	close(fd);
	if (!fd_len) {
		assert_int_equal(rc_f, rc_m);
		if (rc_m)
			assert_string_equal(err, err2);
		else
			expect_same_contents(&m, &f);
	}
	table_contents_release(&m);
	table_contents_release(&f);
	free(buf);
	return rc_f;
}

static void test_index_read_from_fd(void **state)
{
	static const char *const corpus[] = {
		CKPTFS_CORPUS_DIR "/serving_half_plus_two_tf1/variables.index",
		CKPTFS_CORPUS_DIR "/tfx_estimator_tf1/model.ckpt-1000.index",
		CKPTFS_CORPUS_DIR "/tfx_keras_tf2/variables.index",
	};
	enum {
		N = 1500,
		KEY = 200
	};
	struct fixture_tensor *many = calloc(N, sizeof(*many));
	char *keys = malloc((size_t)N * (KEY + 1)), err[BUNDLE_ERR_MAX], idx[600];
	uint8_t *buf;
	size_t len;
	int fd;

	(void)state;
	assert_non_null(many);
	assert_non_null(keys);
	for (size_t i = 0; i < sizeof(corpus) / sizeof(*corpus); i++)
		assert_int_equal(read_both(corpus[i], 0, err, sizeof(err)), 0);
	/* long keys: over 256 KiB of entries, so several data blocks */
	for (size_t i = 0; i < N; i++) {
		char *k = keys + i * (KEY + 1);

		snprintf(k, KEY + 1, "t%05zu", i);
		memset(k + 6, 'k', KEY - 6);
		k[KEY] = '\0';
		many[i] = (struct fixture_tensor){ k, 1, 0 };
	}
	testutil_write_source(testutil_dir, "many", many, N);
	free(many);
	free(keys);
	snprintf(idx, sizeof(idx), "%s/many.index", testutil_dir);
	assert_int_equal(read_both(idx, 0, err, sizeof(err)), 0);

	/* a corrupt copy: the same message from both readers */
	buf = slurp(idx, &len);
	buf[3] ^= 0x10;
	write_file(at("bad.index"), buf, len, 0644);
	assert_int_equal(read_both(at("bad.index"), 0, err, sizeof(err)), -EBADMSG);
	expect_msg(err, "block checksum mismatch in data block 0");
	/* a file shorter than it was said to be (it shrank) */
	assert_int_equal(read_both(idx, len + 4096, err, sizeof(err)), -EIO);
	expect_msg(err, "many.index': read failed: file shrank");
	assert_int_equal(read_both(idx, len - 1, err, sizeof(err)), -EBADMSG);
	expect_msg(err, "not an sstable (bad magic number)");
	free(buf);

	/* a 4 GiB hole before the footer: read block by block, no 4 GiB buffer */
	buf = slurp(idx, &len);
	fd = open(at("holey.index"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len - TABLE_FOOTER_SIZE),
			 (ssize_t)(len - TABLE_FOOTER_SIZE));
	assert_int_equal(
		pwrite(fd, buf + len - TABLE_FOOTER_SIZE, TABLE_FOOTER_SIZE, (off_t)4 << 30),
		TABLE_FOOTER_SIZE);
	close(fd);
	free(buf);
	fd = open(at("holey.index"), O_RDONLY);
	{
		struct table_contents c;

		assert_int_equal(table_read_fd("holey", fd, ((uint64_t)4 << 30) + TABLE_FOOTER_SIZE,
					       &c, err, sizeof(err)),
				 0);
		assert_int_equal(c.n, N + 1); /* the header and the tensors */
		table_contents_release(&c);
	}
	close(fd);
}

static void test_index_handle_beyond_file(void **state)
{
	char err[BUNDLE_ERR_MAX], idx[600];
	struct table_contents c;
	uint8_t *buf, *f;
	size_t len;
	int fd;

	(void)state;
	testutil_write_source(testutil_dir, "h", tensors, 2);
	snprintf(idx, sizeof(idx), "%s/h.index", testutil_dir);
	buf = slurp(idx, &len);
	/* the footer's index handle: keep its offset, claim 2^40 bytes */
	f = buf + len - TABLE_FOOTER_SIZE;
	{
		uint64_t v[4];
		const uint8_t *p = f;
		uint8_t *w = f;

		for (int i = 0; i < 4; i++) {
			int shift = 0;

			v[i] = 0;
			do {
				v[i] |= (uint64_t)(*p & 0x7f) << shift;
				shift += 7;
			} while (*p++ & 0x80);
		}
		v[3] = (uint64_t)1 << 40;
		memset(f, 0, 40);
		for (int i = 0; i < 4; i++) {
			uint64_t x = v[i];

			while (x >= 0x80) {
				*w++ = (uint8_t)(x | 0x80);
				x >>= 7;
			}
			*w++ = (uint8_t)x;
		}
	}
	write_file(idx, buf, len, 0644);
	fd = open(idx, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(table_read_fd(idx, fd, len, &c, err, sizeof(err)), -EBADMSG);
	close(fd);
	expect_msg(err, "': bad block handle for index block (offset ");
	expect_msg(err, ", size 1099511627776, blocks end at ");
	free(buf);
}

/* num_shards = 2^31 - 1: fails at the first missing shard, fast and small. */
static void test_huge_num_shards(void **state)
{
	struct bundle_index_builder *b;
	struct bundle_entry e = {
		.dtype = BUNDLE_DT_UINT8,
		.rank = 1,
		.dims = (int64_t[]){ 1 },
		.size = 1,
	};
	char err[BUNDLE_ERR_MAX], *name;
	struct bundle_reader *r;
	uint8_t *idx;
	size_t len;

	(void)state;
	assert_int_equal(bundle_index_builder_new(INT32_MAX, &b), 0);
	assert_int_equal(bundle_index_builder_add(b, "x", 1, &e), 0);
	assert_int_equal(bundle_index_builder_finish(b, &idx, &len, err, sizeof(err)), 0);
	bundle_index_builder_free(b);
	write_file(at("huge.index"), idx, len, 0644);
	free(idx);
	name = bundle_shard_name(at("huge"), 0, INT32_MAX);
	write_file(name, "z", 1, 0644);
	free(name);
	assert_int_equal(bundle_open(at("huge"), &r, err, sizeof(err)), -ENOENT);
	expect_msg(
		err,
		"huge.data-00001-of-2147483647': cannot open data shard: No such file or directory");
}

/*
 * What an entry record cannot hold goes to a side table: shard ids of
 * 65535 and more (and the one just below stays in the record), and a key
 * with NULs keeps its length. Each entry comes back as it went in.
 */
static void test_index_entries_round_trip_wide_fields(void **state)
{
	static const int32_t shards[] = { 0, 65534, 65535, 70000, INT32_MAX - 1 };
	static const char *const keys[] = { "a", "b", "c", "d", "e\0f" };
	struct bundle_index_builder *b;
	struct bundle_index *idx;
	char err[BUNDLE_ERR_MAX];
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(bundle_index_builder_new(INT32_MAX, &b), 0);
	for (size_t i = 0; i < 5; i++) {
		struct bundle_entry e = {
			.dtype = BUNDLE_DT_UINT8,
			.rank = 2,
			.dims = (int64_t[]){ 1, (int64_t)i + 1 },
			.size = (int64_t)i + 1,
			.offset = (int64_t)i << 40,
			.shard_id = shards[i],
			.crc32c = 0x10000u * (uint32_t)i + 7,
		};
		size_t kl = i == 4 ? 3 : 1;

		assert_int_equal(bundle_index_builder_add(b, keys[i], kl, &e), 0);
	}
	assert_int_equal(bundle_index_builder_finish(b, &buf, &len, err, sizeof(err)), 0);
	bundle_index_builder_free(b);
	assert_int_equal(bundle_index_parse("wide", buf, len, &idx, err, sizeof(err)), 0);
	free(buf);
	assert_int_equal(bundle_index_num_entries(idx), 5);
	for (size_t i = 0; i < 5; i++) {
		const struct bundle_entry e = bundle_index_entry_at(idx, i);
		int32_t shard;
		int64_t off, size;

		assert_int_equal(e.key_len, i == 4 ? 3 : 1);
		assert_memory_equal(e.key, keys[i], e.key_len);
		assert_int_equal(e.key[e.key_len], '\0');
		assert_int_equal(e.shard_id, shards[i]);
		assert_int_equal(e.offset, (int64_t)i << 40);
		assert_int_equal(e.size, (int64_t)i + 1);
		assert_int_equal(e.crc32c, 0x10000u * (uint32_t)i + 7);
		assert_int_equal(e.rank, 2);
		assert_int_equal(e.dims[1], (int64_t)i + 1);
		bundle_index_entry_place(idx, i, &shard, &off, &size);
		assert_int_equal(shard, shards[i]);
		assert_int_equal(off, (int64_t)i << 40);
		assert_int_equal(size, (int64_t)i + 1);
		assert_int_equal(bundle_index_find(idx, keys[i], e.key_len), i);
	}
	assert_true(bundle_index_find(idx, "e", 1) == BUNDLE_NOT_FOUND);
	bundle_index_free(idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_file_regular_only_and_never_blocking),
		cmocka_unit_test(test_open_file_public),
		cmocka_unit_test(test_state_file_public_fifo_and_cap),
		cmocka_unit_test(test_loops_are_not_missing_files),
		cmocka_unit_test(test_foreign_files_are_named),
		cmocka_unit_test(test_index_read_from_fd),
		cmocka_unit_test(test_index_handle_beyond_file),
		cmocka_unit_test(test_huge_num_shards),
		cmocka_unit_test(test_index_entries_round_trip_wide_fields),
	};

	return cmocka_run_group_tests(tests, setup, testutil_teardown);
}
