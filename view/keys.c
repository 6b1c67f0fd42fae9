/*
 * keys.c - the target names' arena (keys.h). A key of more than a quarter
 * chunk gets a chunk of its own, so no key is split and a chunk is never
 * left more than a quarter empty.
 */
#include "view/keys.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct view_keys_chunk {
	struct view_keys_chunk *next;
	char bytes[];
};

/* need bytes that never move, or NULL on ENOMEM. */
static char *room(struct view_keys *k, size_t need)
{
	struct view_keys_chunk *c;

	if (need > VIEW_KEYS_CHUNK / 4) {
		/* its own chunk, behind the head, whose free room stays usable */
		c = malloc(sizeof(*c) + need);
		if (!c)
			return NULL;
		if (k->head) {
			c->next = k->head->next;
			k->head->next = c;
		} else {
			c->next = NULL;
			k->head = c;
			k->used = k->cap = need;
		}
		return c->bytes;
	}
	if (!k->head || k->cap - k->used < need) {
		c = malloc(sizeof(*c) + VIEW_KEYS_CHUNK);
		if (!c)
			return NULL;
		c->next = k->head;
		k->head = c;
		k->used = 0;
		k->cap = VIEW_KEYS_CHUNK;
	}
	k->used += need;
	return k->head->bytes + k->used - need;
}

char *view_keys_add(struct view_keys *k, const char *a, size_t la,
		    const char *b, size_t lb)
{
	char *s;

	if (la > UINT32_MAX || lb > UINT32_MAX - la)
		return NULL;
	s = room(k, la + lb + 1);
	if (!s)
		return NULL;
	if (la)
		memcpy(s, a, la);
	if (lb)
		memcpy(s + la, b, lb);
	s[la + lb] = '\0';
	return s;
}

void view_keys_release(struct view_keys *k)
{
	while (k->head) {
		struct view_keys_chunk *c = k->head;

		k->head = c->next;
		free(c);
	}
	k->used = k->cap = 0;
}
