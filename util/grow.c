/*
 * grow.c - util_grow(): the one growable-array step every module uses.
 */
#include "util/util.h"

#include <stdlib.h>

void *util_grow(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t new_cap = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return arr;
	while (new_cap < need) {
		if (new_cap > (size_t)-1 / 2)
			return NULL;
		new_cap *= 2;
	}
	if (size && new_cap > (size_t)-1 / size)
		return NULL;
	p = realloc(arr, new_cap * size);
	if (p)
		*cap = new_cap;
	return p;
}
