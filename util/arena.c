/*
 * arena.c - util_arena (util.h): chunks filled front to back and never
 * moved; an item over a quarter chunk gets a chunk of its own, kept behind
 * the one being filled, so no item is split and a large one does not
 * waste the free room of the current chunk.
 */
#include "util/util.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

/* what the arenas hold: int64 dims and extents, pointers, chars */
#define ALIGN              \
	alignof(union {    \
		int64_t i; \
		void *p;   \
	})

struct util_arena_chunk {
	struct util_arena_chunk *next;
	alignas(max_align_t) unsigned char data[];
};

static size_t chunk_size(const struct util_arena *a)
{
	return a->chunk ? a->chunk : UTIL_ARENA_CHUNK;
}

/* n bytes in a chunk of their own, or NULL on ENOMEM. */
static void *own_chunk(struct util_arena *a, size_t n)
{
	struct util_arena_chunk *c;

	if (n > SIZE_MAX - sizeof(*c))
		return NULL;
	c = malloc(sizeof(*c) + n);
	if (!c)
		return NULL;
	if (a->head) {
		c->next = a->head->next;
		a->head->next = c;
	} else {
		c->next = NULL;
		a->head = c;
		a->used = a->cap = n;
	}
	return c->data;
}

/* n bytes at the first free multiple of align, or NULL on ENOMEM. */
static void *room(struct util_arena *a, size_t n, size_t align)
{
	size_t size = chunk_size(a), at = (a->used + align - 1) & ~(align - 1);
	struct util_arena_chunk *c;

	if (n > size / 4)
		return own_chunk(a, n);
	if (!a->head || at > a->cap || a->cap - at < n) {
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
		a->cap = size;
		at = 0;
	}
	a->used = at + n;
	return a->head->data + at;
}

void *util_arena_alloc(struct util_arena *a, size_t n) { return room(a, n, ALIGN); }

char *util_arena_alloc_bytes(struct util_arena *a, size_t n) { return room(a, n, 1); }

void util_arena_reset(struct util_arena *a)
{
	struct util_arena_chunk *c, *next;

	if (!a->head)
		return;
	for (c = a->head->next; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head->next = NULL;
	a->used = 0;
}

void util_arena_release(struct util_arena *a)
{
	util_arena_reset(a);
	free(a->head);
	a->head = NULL;
	a->used = a->cap = 0;
}
