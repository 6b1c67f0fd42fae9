/*
 * suggest.h - "did you mean" for a map line whose FROM names nothing: the
 * source's tensor names and scopes closest to what was typed (a different
 * case, a missing or extra '/', a typo), which TensorFlow's own error does
 * not offer.
 */
#ifndef CKPTFS_VIEW_SUGGEST_H
#define CKPTFS_VIEW_SUGGEST_H

#include <stddef.h>

struct bundle_reader;

/*
 * Write up to three candidates as "'a', 'b' or 'c'" into buf (NUL-
 * terminated, truncated to len), each escaped as messages show names.
 * Returns how many were found; 0 leaves buf empty. Pieces of partitioned
 * variables are never suggested.
 */
size_t suggest_names(const struct bundle_reader *r, const char *query, size_t query_len, char *buf,
		     size_t len);

#endif
