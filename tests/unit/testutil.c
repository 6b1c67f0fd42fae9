/* testutil.c - see testutil.h. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bundle/bundle.h"

static char tmpdir[256];
const char *testutil_dir;

int testutil_setup(void **state)
{
	(void)state;
	testutil_dir = fixture_mkdtemp(program_invocation_short_name, tmpdir, sizeof(tmpdir));
	return testutil_dir ? 0 : -1;
}

int testutil_teardown(void **state)
{
	(void)state;
	if (!testutil_dir)
		return 0;
	testutil_dir = NULL;
	return fixture_rmtree(tmpdir);
}

void testutil_write_source(const char *dir, const char *name, const struct fixture_tensor *t,
			   size_t n)
{
	char err[BUNDLE_ERR_MAX];

	if (fixture_write_source(dir, name, t, n, err, sizeof(err)))
		fail_msg("writing source '%s/%s': %s", dir, name, err);
}
