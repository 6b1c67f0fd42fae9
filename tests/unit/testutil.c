/* testutil.c - see testutil.h. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bundle/bundle.h"

static char tmpdir[128];

const char *testutil_tmpdir(const char *tag)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ckptfs-%s-XXXXXX", tag);
	return mkdtemp(tmpdir);
}

int testutil_tmpdir_remove(void)
{
	char cmd[160];

	if (!tmpdir[0])
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

void testutil_fill_pattern(uint8_t *buf, const char *source, const char *key,
			   size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a of source, 0xff, key */

	for (const char *p = source; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((h >> 8) + 131u * i + (i >> 8));
}

static void add_tensor(struct bundle_writer *w, const char *name,
		       const struct testutil_tensor *t)
{
	int64_t dim = (int64_t)t->len;
	struct bundle_entry e = { .key = t->key, .key_len = strlen(t->key),
				  .dtype = BUNDLE_DT_UINT8, .rank = 1,
				  .dims = &dim, .size = dim };
	uint8_t *buf;

	if (t->hole) {
		assert_int_equal(bundle_writer_add_zeros(w, &e), 0);
		return;
	}
	buf = malloc(t->len + 1);
	assert_non_null(buf);
	testutil_fill_pattern(buf, name, t->key, t->len);
	assert_int_equal(bundle_writer_add(w, &e, buf, t->len), 0);
	free(buf);
}

void testutil_write_source(const char *dir, const char *name,
			   const struct testutil_tensor *t, size_t n)
{
	struct bundle_writer *w;
	char prefix[512], err[BUNDLE_ERR_MAX];

	snprintf(prefix, sizeof(prefix), "%s/%s", dir, name);
	if (bundle_writer_open(prefix, &w, err, sizeof(err)))
		fail_msg("bundle_writer_open: %s", err);
	for (size_t i = 0; i < n; i++)
		add_tensor(w, name, &t[i]);
	if (bundle_writer_finish(w, err, sizeof(err)))
		fail_msg("bundle_writer_finish: %s", err);
	bundle_writer_free(w);
}
