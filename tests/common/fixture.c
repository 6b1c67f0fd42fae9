/* fixture.c - see fixture.h. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "tests/common/fixture.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"

char *fixture_mkdtemp(const char *tag, char *buf, size_t len)
{
	const char *t = getenv("TMPDIR");

	snprintf(buf, len, "%s/ckptfs-%s-XXXXXX", t && *t ? t : "/tmp", tag);
	return mkdtemp(buf);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int fixture_rmtree(const char *dir)
{
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void fixture_fill_pattern(uint8_t *buf, const char *source, const char *key, size_t len)
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

static int add_tensor(struct bundle_writer *w, const char *name, const struct fixture_tensor *t,
		      char *err, size_t errlen)
{
	int64_t dim = (int64_t)t->len;
	struct bundle_entry e = {
		.key = t->key,
		.key_len = strlen(t->key),
		.dtype = BUNDLE_DT_UINT8,
		.rank = 1,
		.dims = &dim,
		.size = dim,
	};
	uint8_t *buf;
	int rc;

	if (t->hole)
		return bundle_writer_add_zeros(w, &e);
	buf = malloc(t->len + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fixture_fill_pattern(buf, name, t->key, t->len);
	rc = bundle_writer_add(w, &e, buf, t->len);
	if (rc)
		snprintf(err, errlen, "bundle_writer_add '%s': %s", t->key, strerror(-rc));
	free(buf);
	return rc;
}

int fixture_write_source(const char *dir, const char *name, const struct fixture_tensor *t,
			 size_t n, char *err, size_t errlen)
{
	struct bundle_writer *w;
	char prefix[512];
	int rc;

	snprintf(prefix, sizeof(prefix), "%s/%s", dir, name);
	rc = bundle_writer_open(prefix, &w, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = add_tensor(w, name, &t[i], err, errlen);
	if (rc == 0)
		rc = bundle_writer_finish(w, err, errlen);
	bundle_writer_free(w);
	return rc;
}
