/*
 * fixture.h - scratch directories and small source checkpoints for the C
 * tests: shared by the cmocka unit tests (through testutil.h, which turns
 * failures into test failures) and the fuzz targets (which abort). Nothing
 * here depends on a test framework.
 */
#ifndef CKPTFS_TESTS_COMMON_FIXTURE_H
#define CKPTFS_TESTS_COMMON_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Create $TMPDIR/ckptfs-TAG-XXXXXX (TMPDIR defaults to /tmp) into buf and
 * return buf, or NULL (errno set) on failure.
 */
char *fixture_mkdtemp(const char *tag, char *buf, size_t len);

/* Remove dir and everything below it, without following symlinks. 0 or -1. */
int fixture_rmtree(const char *dir);

/* Bytes that differ per source, per tensor and per position. */
void fixture_fill_pattern(uint8_t *buf, const char *source, const char *key, size_t len);

/* A uint8 vector of len bytes; a hole is len zero bytes (no disk space). */
struct fixture_tensor {
	const char *key;
	size_t len;
	int hole;
};

/*
 * Write checkpoint DIR/name of uint8 tensors, laid out in array order, the
 * bytes from fixture_fill_pattern(name, key). 0, or a negative errno with
 * a message in err.
 */
int fixture_write_source(const char *dir, const char *name, const struct fixture_tensor *t,
			 size_t n, char *err, size_t errlen);

#endif
