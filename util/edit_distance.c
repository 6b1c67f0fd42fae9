/*
 * edit_distance.c - the distance behind every "did you mean": subcommand
 * typos (with swapped neighbours, "lsit") and tensor names (ignoring case,
 * "Dense/kernel" for "dense/kernel").
 */
#include "util/util.h"

#include <ctype.h>
#include <string.h>

static int same(char x, char y, unsigned flags)
{
	if (flags & UTIL_EDIT_FOLD_CASE)
		return tolower((unsigned char)x) == tolower((unsigned char)y);
	return x == y;
}

static size_t min2(size_t x, size_t y) { return x < y ? x : y; }

/*
 * Three rows of the dynamic-programming table (a swap looks two rows
 * back). Once every cell of a row exceeds limit, so does every cell of
 * every later row, so the answer is known and we stop.
 */
size_t util_edit_distance(const char *a, size_t la, const char *b, size_t lb, size_t limit,
			  unsigned flags)
{
	size_t rows[3][UTIL_EDIT_MAX_LEN + 1];
	size_t *back2 = rows[0], *back = rows[1], *cur = rows[2], *t;

	if (la > UTIL_EDIT_MAX_LEN || lb > UTIL_EDIT_MAX_LEN)
		return limit + 1;
	for (size_t j = 0; j <= lb; j++)
		back[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t best = cur[0] = i;

		for (size_t j = 1; j <= lb; j++) {
			size_t v = back[j - 1] + !same(a[i - 1], b[j - 1], flags);

			v = min2(v, min2(back[j], cur[j - 1]) + 1);
			if ((flags & UTIL_EDIT_SWAP) && i > 1 && j > 1 &&
			    same(a[i - 1], b[j - 2], flags) && same(a[i - 2], b[j - 1], flags))
				v = min2(v, back2[j - 2] + 1);
			cur[j] = v;
			best = min2(best, v);
		}
		if (best > limit)
			return limit + 1;
		t = back2;
		back2 = back;
		back = cur;
		cur = t;
	}
	return min2(back[lb], limit + 1);
}
