/*
 * test_tfplugin_cache.c - the TensorFlow plugin's core without TensorFlow:
 * paths to plans and files, one plan per unchanged mapping file, a new
 * one when it changes while the old one serves its open files, globs, and
 * errors that keep the mapping's FILE:LINE:COL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cmocka.h>

#include "testutil.h"
#include "tfplugin/tfplugin.h"

static char conf[512];

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	static const struct fixture_tensor a[] = { { "w", 16, 0 }, { "b", 8, 0 } };

	assert_int_equal(testutil_setup(state), 0);
	testutil_write_source(testutil_dir, "a", a, 2);
	snprintf(conf, sizeof(conf), "%s/m.conf", testutil_dir);
	write_conf("source a = a\nmap a:/ -> /\n");
	return 0;
}

static void test_paths(void **state)
{
	struct tfp_cache *c = tfp_cache_new();
	struct tfp_node dirnode, file;
	char path[600], err[1024];

	(void)state;
	assert_int_equal(tfp_resolve(c, conf, &dirnode, err, sizeof(err)), 0);
	assert_int_equal(dirnode.file, -1);
	snprintf(path, sizeof(path), "%s/model.ckpt.index", conf);
	assert_int_equal(tfp_resolve(c, path, &file, err, sizeof(err)), 0);
	assert_true(file.file >= 0);
	/* one plan for both: built once */
	assert_ptr_equal(dirnode.plan, file.plan);
	snprintf(path, sizeof(path), "%s/model.index", conf);
	assert_int_equal(tfp_resolve(c, path, &file, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no such file in the merged checkpoint"));
	assert_int_equal(tfp_resolve(c, "rel/m.conf", &file, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/nothing/x", testutil_dir);
	assert_int_equal(tfp_resolve(c, path, &file, err, sizeof(err)), -ENOENT);
	tfp_plan_unref(dirnode.plan);
	tfp_plan_unref(dirnode.plan); /* the file's reference */
	tfp_cache_free(c);
}

static void test_changed_mapping_gets_a_new_plan(void **state)
{
	struct tfp_cache *c = tfp_cache_new();
	struct tfp_node old, new;
	char err[1024];
	uint8_t before[64], after[64];
	struct timeval tv[2] = { { 1, 0 }, { 1, 0 } };
	long idx;
	int64_t n;

	(void)state;
	assert_int_equal(tfp_resolve(c, conf, &old, err, sizeof(err)), 0);
	idx = view_lookup(tfp_plan_view(old.plan), "model.ckpt.index");
	assert_true(idx >= 0);
	n = tfp_read(old.plan, (size_t)idx, 0, sizeof(before), before, NULL, conf, err,
		     sizeof(err));
	assert_true(n > 0);
	write_conf("source a = a\nmap a:w -> renamed\n");
	assert_int_equal(utimes(conf, tv), 0);
	assert_int_equal(tfp_resolve(c, conf, &new, err, sizeof(err)), 0);
	assert_ptr_not_equal(old.plan, new.plan);
	assert_true(view_lookup(tfp_plan_view(new.plan), "model.ckpt.index") >= 0);
	/* the old plan still serves what it served */
	assert_int_equal(tfp_read(old.plan, (size_t)idx, 0, sizeof(after), after, NULL, conf, err,
				  sizeof(err)),
			 n);
	assert_memory_equal(before, after, (size_t)n);
	tfp_plan_unref(old.plan);
	tfp_plan_unref(new.plan);
	tfp_cache_free(c);
	write_conf("source a = a\nmap a:/ -> /\n");
}

/* The bytes of the merged index a plan serves, as a malloc'd copy. */
static uint8_t *index_bytes(const struct tfp_plan *p, size_t *len)
{
	const struct view *v = tfp_plan_view(p);
	long idx = view_lookup(v, "model.ckpt.index");
	uint8_t *buf;

	assert_true(idx >= 0);
	*len = view_file_at(v, (size_t)idx)->size;
	buf = malloc(*len);
	assert_non_null(buf);
	assert_int_equal(tfp_read(p, (size_t)idx, 0, *len, buf, NULL, conf, NULL, 0),
			 (int64_t)*len);
	return buf;
}

/*
 * cp -p, touch -r, rsync --inplace: the same size and mtime, other bytes.
 * The ctime tells (no user can set it back), or, within its tick of a few
 * milliseconds, the bytes.
 */
static void test_edit_in_place_keeping_size_and_mtime(void **state)
{
	struct tfp_cache *c = tfp_cache_new();
	struct tfp_node old, new, again;
	struct stat before, after;
	struct timespec times[2];
	char err[1024];
	uint8_t *a, *b;
	size_t alen, blen;

	(void)state;
	assert_int_equal(stat(conf, &before), 0);
	assert_int_equal(tfp_resolve(c, conf, &old, err, sizeof(err)), 0);
	a = index_bytes(old.plan, &alen);
	write_conf("source a = a\nmap a:w -> x\n"); /* as long as "map a:/ -> /" */
	times[0] = before.st_atim;
	times[1] = before.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, conf, times, 0), 0);
	assert_int_equal(stat(conf, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	assert_int_equal(tfp_resolve(c, conf, &new, err, sizeof(err)), 0);
	assert_ptr_not_equal(old.plan, new.plan);
	b = index_bytes(new.plan, &blen);
	assert_true(alen != blen || memcmp(a, b, alen));
	/* and an unchanged file keeps its plan */
	assert_int_equal(tfp_resolve(c, conf, &again, err, sizeof(err)), 0);
	assert_ptr_equal(again.plan, new.plan);
	free(a);
	free(b);
	tfp_plan_unref(old.plan);
	tfp_plan_unref(new.plan);
	tfp_plan_unref(again.plan);
	tfp_cache_free(c);
	write_conf("source a = a\nmap a:/ -> /\n");
}

/* A format = both|safetensors mapping's PREFIX.safetensors, as a mount's. */
static void test_safetensors_is_served(void **state)
{
	static const char *const texts[] = {
		"source a = a\nmap a:/ -> /\nformat = both\n",
		"source a = a\nmap a:/ -> /\nformat = safetensors\n",
	};
	char path[600], pattern[700], err[1024], **list;
	uint8_t head[8];
	size_t n;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct tfp_cache *c = tfp_cache_new();
		struct tfp_node node;
		const struct view_file *f;

		write_conf(texts[i]);
		snprintf(path, sizeof(path), "%s/model.ckpt.safetensors", conf);
		assert_int_equal(tfp_resolve(c, path, &node, err, sizeof(err)), 0);
		f = view_file_at(tfp_plan_view(node.plan), (size_t)node.file);
		assert_int_equal(f->kind, VIEW_FILE_SAFETENSORS);
		/* the header's length, then the header */
		assert_int_equal(tfp_read(node.plan, (size_t)node.file, 0, 8, head, NULL, path, err,
					  sizeof(err)),
				 8);
		assert_int_equal(head[0] | head[1] << 8, f->mem_len - 8);
		tfp_plan_unref(node.plan);
		snprintf(pattern, sizeof(pattern), "%s/*.safetensors", conf);
		assert_int_equal(tfp_glob(c, pattern, &list, &n, err, sizeof(err)), 0);
		assert_int_equal(n, 1);
		assert_string_equal(list[0], path);
		free(list[0]);
		free(list);
		/* format = safetensors: that file alone */
		snprintf(path, sizeof(path), "%s/model.ckpt.index", conf);
		assert_int_equal(tfp_resolve(c, path, &node, err, sizeof(err)), i ? -ENOENT : 0);
		if (!i)
			tfp_plan_unref(node.plan);
		tfp_cache_free(c);
	}
	write_conf("source a = a\nmap a:/ -> /\n");
}

static char index_path[600], data_path[600];

static void set_paths(void)
{
	snprintf(index_path, sizeof(index_path), "%s/model.ckpt.index", conf);
	snprintf(data_path, sizeof(data_path), "%s/model.ckpt.data-00000-of-00001", conf);
}

/* The plan path resolves to now (a reference dropped at once: the test holds others). */
static struct tfp_plan *plan_now(struct tfp_cache *c, const char *path)
{
	struct tfp_node node;
	char err[1024];

	assert_int_equal(tfp_resolve(c, path, &node, err, sizeof(err)), 0);
	tfp_plan_unref(node.plan);
	return node.plan;
}

/*
 * A reader opens the index, the mapping changes, it opens the data file:
 * the data file is its index's. A fresh open sees the new plan, and the
 * data files follow the index opened last once the first is closed.
 */
static void test_data_files_follow_the_open_index(void **state)
{
	struct tfp_cache *c = tfp_cache_new();
	struct tfp_node first, second;
	char err[1024];

	(void)state;
	set_paths();
	assert_int_equal(tfp_open(c, index_path, &first, err, sizeof(err)), 0);
	write_conf("source a = a\nmap a:w -> w\n"); /* another data file */
	assert_ptr_equal(plan_now(c, data_path), first.plan);
	/* everything but a data file is the mapping as it is now */
	assert_ptr_not_equal(plan_now(c, index_path), first.plan);
	assert_ptr_not_equal(plan_now(c, conf), first.plan);
	assert_int_equal(tfp_open(c, index_path, &second, err, sizeof(err)), 0);
	assert_ptr_not_equal(second.plan, first.plan);
	assert_ptr_equal(plan_now(c, data_path), second.plan);
	tfp_close(&second);
	/* the first index is still open */
	assert_ptr_equal(plan_now(c, data_path), first.plan);
	tfp_close(&first);
	assert_ptr_equal(plan_now(c, data_path), plan_now(c, conf));
	tfp_cache_free(c);
	write_conf("source a = a\nmap a:/ -> /\n");
}

struct opener {
	struct tfp_cache *c;
	int open_index;        /* 1: open the index first */
	struct tfp_node index; /* the index opened, if asked */
	struct tfp_plan *data; /* the data file's plan (no reference) */
};

static void *open_in_thread(void *arg)
{
	struct opener *o = arg;
	char err[1024];

	if (o->open_index && tfp_open(o->c, index_path, &o->index, err, sizeof(err)))
		return NULL;
	o->data = plan_now(o->c, data_path);
	return NULL;
}

/*
 * Two readers of two plans at once, each in its thread (RestoreV2 runs a
 * reader per thread of its pool): each thread's data file is its own
 * index's; a thread that opened no index gets the index opened last.
 */
static void test_each_thread_follows_its_index(void **state)
{
	struct tfp_cache *c = tfp_cache_new();
	struct opener second = { .c = c, .open_index = 1 }, other = { .c = c };
	struct tfp_node first;
	char err[1024];
	pthread_t t;

	(void)state;
	set_paths();
	assert_int_equal(tfp_open(c, index_path, &first, err, sizeof(err)), 0);
	write_conf("source a = a\nmap a:w -> w\n");
	assert_int_equal(pthread_create(&t, NULL, open_in_thread, &second), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_non_null(second.data);
	assert_ptr_equal(second.data, second.index.plan);
	assert_ptr_not_equal(second.data, first.plan);
	/* this thread opened the first: its data, though the second is newer */
	assert_ptr_equal(plan_now(c, data_path), first.plan);
	assert_int_equal(pthread_create(&t, NULL, open_in_thread, &other), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_ptr_equal(other.data, second.index.plan);
	tfp_close(&second.index);
	tfp_close(&first);
	tfp_cache_free(c);
	write_conf("source a = a\nmap a:/ -> /\n");
}

static void test_broken_mapping_keeps_its_position(void **state)
{
	struct tfp_cache *c = tfp_cache_new();
	struct tfp_node node;
	char err[1024], want[600];

	(void)state;
	write_conf("source a = a\nmap a:nope -> x\n");
	/* a missing tensor is the mapping's fault, not a missing path */
	assert_int_equal(tfp_resolve(c, conf, &node, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2:5: error: ", conf);
	assert_non_null(strstr(err, want));
	tfp_cache_free(c);
	write_conf("source a = a\nmap a:/ -> /\n");
}

static void test_glob(void **state)
{
	struct tfp_cache *c = tfp_cache_new();
	char pattern[700], want[700], err[1024], **list;
	size_t n;

	(void)state;
	snprintf(pattern, sizeof(pattern), "ckptfs://%s/model.ckpt.*", conf);
	assert_int_equal(tfp_glob(c, pattern, &list, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	snprintf(want, sizeof(want), "ckptfs://%s/model.ckpt.index", conf);
	assert_true(!strcmp(list[0], want) || !strcmp(list[1], want));
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
	snprintf(pattern, sizeof(pattern), "%s/nomatch*", conf);
	assert_int_equal(tfp_glob(c, pattern, &list, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(list);
	snprintf(pattern, sizeof(pattern), "%s/*/m.conf/x*", testutil_dir);
	assert_int_equal(tfp_glob(c, pattern, &list, &n, err, sizeof(err)), -ENOTSUP);
	tfp_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_changed_mapping_gets_a_new_plan),
		cmocka_unit_test(test_edit_in_place_keeping_size_and_mtime),
		cmocka_unit_test(test_safetensors_is_served),
		cmocka_unit_test(test_data_files_follow_the_open_index),
		cmocka_unit_test(test_each_thread_follows_its_index),
		cmocka_unit_test(test_broken_mapping_keeps_its_position),
		cmocka_unit_test(test_glob),
	};

	return cmocka_run_group_tests(tests, setup, testutil_teardown);
}
