/*
 * testutil.h - the shared C fixtures (tests/common/fixture.h) for cmocka
 * unit tests: a scratch directory per test program, and source
 * checkpoints whose write failures fail the test. Linked into every unit
 * test (tests/CMakeLists.txt).
 */
#ifndef CKPTFS_TESTS_TESTUTIL_H
#define CKPTFS_TESTS_TESTUTIL_H

#include <stddef.h>

#include "tests/common/fixture.h"

/*
 * Create $TMPDIR/ckptfs-TAG-XXXXXX and return its path (static storage,
 * valid until the next call). NULL on failure.
 */
const char *testutil_tmpdir(const char *tag);
/* Remove the last directory testutil_tmpdir() made. 0 or -1. */
int testutil_tmpdir_remove(void);

/* fixture_write_source(), failing the test on error. */
void testutil_write_source(const char *dir, const char *name,
			   const struct fixture_tensor *t, size_t n);

#endif
