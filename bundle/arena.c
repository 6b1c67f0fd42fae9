/* arena.c - see arena.h. */
#include "bundle/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#define ARENA_CHUNK_MIN 65536

struct arena_chunk {
	struct arena_chunk *next;
	alignas(max_align_t) unsigned char data[];
};

void *arena_alloc(struct arena *a, size_t n)
{
	/* what an index holds: int64 dims and extents, pointers, chars */
	const size_t align = alignof(union { int64_t i; void *p; });
	size_t need = (n + align - 1) & ~(align - 1);
	struct arena_chunk *c;
	size_t cap;
	void *p;

	if (need < n)
		return NULL;
	if (!a->head || a->cap - a->used < need) {
		cap = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
		a->used = 0;
		a->cap = cap;
	}
	p = a->head->data + a->used;
	a->used += need;
	return p;
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;

	while (c) {
		next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->used = a->cap = 0;
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *c;

	if (!a->head)
		return;
	c = a->head->next;
	a->head->next = NULL;
	a->used = 0;
	while (c) {
		struct arena_chunk *next = c->next;

		free(c);
		c = next;
	}
}
