/*
 * testutil.h - what the unit tests share: a scratch directory per test
 * program and small uint8 source checkpoints with recognisable bytes.
 * Linked into every unit test (tests/CMakeLists.txt).
 */
#ifndef CKPTFS_TESTS_TESTUTIL_H
#define CKPTFS_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Create /tmp/ckptfs-TAG-XXXXXX and return its path (static storage, valid
 * until the next call). NULL on failure.
 */
const char *testutil_tmpdir(const char *tag);
/* Remove the last directory testutil_tmpdir() made. 0 or -1. */
int testutil_tmpdir_remove(void);

/* Bytes that differ per source, per tensor and per position. */
void testutil_fill_pattern(uint8_t *buf, const char *source, const char *key,
			   size_t len);

/* A uint8 vector of len bytes; a hole is len zero bytes (no disk space). */
struct testutil_tensor {
	const char *key;
	size_t len;
	int hole;
};

/*
 * Write checkpoint DIR/name of uint8 tensors, laid out in array order, the
 * bytes from testutil_fill_pattern(name, key). Fails the test on error.
 */
void testutil_write_source(const char *dir, const char *name,
			   const struct testutil_tensor *t, size_t n);

#endif
