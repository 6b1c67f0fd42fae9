/*
 * range.h - the range of a `map` line that renumbers a run of layers,
 * `map b:model.layers.{8..23}. -> model.layers.{16..31}.` (mapping.md):
 * the one `{FIRST..LAST}` of a word, and the word with a number in its
 * place. Pure string work, private to mapping/ (directive.c expands a
 * line into one map per number).
 */
#ifndef CKPTFS_MAPPING_RANGE_H
#define CKPTFS_MAPPING_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* The most numbers one range may hold: a model has hundreds of layers. */
#define MAPPING_RANGE_MAX 100000

struct mapping_range {
	size_t at, len;       /* "{FIRST..LAST}" is word[at, at + len) */
	uint64_t first, last; /* first <= last */
};

/*
 * Find the range of word: a '{', digits, "..", digits, '}' (no sign, no
 * blank, no leading zero). Returns 1 and fills *r, 0 if the word has none
 * (braces of any other shape are part of the name), or -EINVAL with the
 * reason in why (whylen bytes) and *col_off the offset in word at fault:
 * a second range, a range that runs downwards, over MAPPING_RANGE_MAX
 * numbers, or a number with a leading zero or too large.
 */
int mapping_range_find(const char *word, struct mapping_range *r, size_t *col_off, char *why,
		       size_t whylen);

/*
 * word with its range r replaced by the decimal number n: malloc'd,
 * caller frees; NULL when out of memory.
 */
char *mapping_range_subst(const char *word, const struct mapping_range *r, uint64_t n);

#endif
