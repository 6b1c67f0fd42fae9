/*
 * testutil.h - the shared C fixtures (tests/common/fixture.h) for cmocka
 * unit tests: a scratch directory made and removed by a cmocka setup and
 * teardown, and source checkpoints whose write failures fail the test.
 * Linked into every unit test (tests/CMakeLists.txt).
 */
#ifndef CKPTFS_TESTS_TESTUTIL_H
#define CKPTFS_TESTS_TESTUTIL_H

#include <stddef.h>

#include "tests/common/fixture.h"

/*
 * The scratch directory: testutil_setup(), a cmocka setup for a group or
 * for each test, creates $TMPDIR/ckptfs-PROGRAM-XXXXXX and points
 * testutil_dir at it (0, or -1 if it could not); testutil_teardown(), the
 * matching teardown, removes it and everything in it (0 or -1). A program
 * with more to set up calls them from its own setup and teardown.
 */
extern const char *testutil_dir;
int testutil_setup(void **state);
int testutil_teardown(void **state);

/* fixture_write_source(), failing the test on error. */
void testutil_write_source(const char *dir, const char *name, const struct fixture_tensor *t,
			   size_t n);

#endif
