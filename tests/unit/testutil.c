/* testutil.c - see testutil.h. */
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bundle/bundle.h"

static char tmpdir[256];

const char *testutil_tmpdir(const char *tag)
{
	return fixture_mkdtemp(tag, tmpdir, sizeof(tmpdir));
}

int testutil_tmpdir_remove(void)
{
	return tmpdir[0] ? fixture_rmtree(tmpdir) : 0;
}

void testutil_write_source(const char *dir, const char *name,
			   const struct fixture_tensor *t, size_t n)
{
	char err[BUNDLE_ERR_MAX];

	if (fixture_write_source(dir, name, t, n, err, sizeof(err)))
		fail_msg("writing source '%s/%s': %s", dir, name, err);
}
