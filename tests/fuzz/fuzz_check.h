/*
 * fuzz_check.h - the one assertion the fuzz targets share: a failed
 * invariant prints what failed and aborts, which libFuzzer reports as a
 * crash with the input that caused it. Define FUZZ_NAME before including.
 */
#ifndef CKPTFS_FUZZ_CHECK_H
#define CKPTFS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, FUZZ_NAME ": check failed: %s: ", #cond); \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
			abort();                                                  \
		}                                                                 \
	} while (0)

#endif
