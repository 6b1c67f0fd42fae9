/*
 * range.c - find the `{FIRST..LAST}` of a map line's word and put a number
 * in its place (range.h).
 */
#include "mapping/range.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Digits at s: their count (0 if none), the value in *v, *big if over 2^63. */
static size_t digits(const char *s, uint64_t *v, int *big)
{
	size_t n = 0;

	*v = 0;
	*big = 0;
	for (; s[n] >= '0' && s[n] <= '9'; n++) {
		if (*v > (UINT64_MAX / 2) / 10)
			*big = 1;
		else
			*v = *v * 10 + (uint64_t)(s[n] - '0');
	}
	return n;
}

/* The length of a range at s ("{8..23}"), 0 if s starts none. */
static size_t range_at(const char *s, uint64_t *a, uint64_t *b, int *big, int *zero)
{
	int big_b;
	size_t na, nb;

	if (s[0] != '{')
		return 0;
	na = digits(s + 1, a, big);
	if (!na || s[1 + na] != '.' || s[2 + na] != '.')
		return 0;
	nb = digits(s + 3 + na, b, &big_b);
	if (!nb || s[3 + na + nb] != '}')
		return 0;
	*big |= big_b;
	*zero = (na > 1 && s[1] == '0') || (nb > 1 && s[3 + na] == '0');
	return 4 + na + nb;
}

int mapping_range_find(const char *word, struct mapping_range *r, size_t *col_off, char *why,
		       size_t whylen)
{
	struct mapping_range got = { 0 };
	int found = 0;

	for (size_t i = 0; word[i]; i++) {
		uint64_t a, b;
		int big, zero;
		size_t n = range_at(word + i, &a, &b, &big, &zero);
		const char *bad =
			!n      ? NULL
			: found ? "a second range in one name (one is renumbered at a time)"
			: big   ? "a number too large"
			: zero  ? "a number with a leading zero"
			: a > b ? "a range that runs downwards"
			: b - a >= MAPPING_RANGE_MAX ? "a range of more than 100000 numbers"
						     : NULL;

		if (!n)
			continue;
		if (bad) {
			snprintf(why, whylen, "%s", bad);
			*col_off = i;
			return -EINVAL;
		}
		got = (struct mapping_range){ i, n, a, b };
		found = 1;
		i += n - 1;
	}
	if (found)
		*r = got;
	return found;
}

char *mapping_range_subst(const char *word, const struct mapping_range *r, uint64_t n)
{
	char num[24];
	int k = snprintf(num, sizeof(num), "%" PRIu64, n);
	size_t len = strlen(word) - r->len + (size_t)k;
	char *s = malloc(len + 1);

	if (!s)
		return NULL;
	memcpy(s, word, r->at);
	memcpy(s + r->at, num, (size_t)k);
	strcpy(s + r->at + (size_t)k, word + r->at + r->len);
	return s;
}
