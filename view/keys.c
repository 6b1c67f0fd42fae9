/* keys.c - a target's name, joined from two parts into the arena (keys.h). */
#include "view/keys.h"

#include <stdint.h>
#include <string.h>

char *view_keys_add(struct util_arena *keys, const char *a, size_t la, const char *b, size_t lb)
{
	char *s;

	if (la > UINT32_MAX || lb > UINT32_MAX - la)
		return NULL;
	s = util_arena_alloc_bytes(keys, la + lb + 1);
	if (!s)
		return NULL;
	if (la)
		memcpy(s, a, la);
	if (lb)
		memcpy(s + la, b, lb);
	s[la + lb] = '\0';
	return s;
}
