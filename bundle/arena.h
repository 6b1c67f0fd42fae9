/*
 * arena.h - a bump allocator for the many small arrays an index holds (the
 * slices of partitioned entries, an entry's dims while it is decoded): one
 * free() per chunk instead of one per entry, and pointers that never move
 * (chunks are never reallocated).
 */
#ifndef CKPTFS_BUNDLE_ARENA_H
#define CKPTFS_BUNDLE_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head; /* owned list, newest first */
	size_t used;              /* bytes used in head */
	size_t cap;               /* bytes available in head */
};

/* Zero-initialise ({0}) before use. */

/*
 * n bytes aligned for int64_t and pointers (not for long double: 8 bytes,
 * so a tensor's one dimension takes 8, not 16), or NULL on ENOMEM. Never
 * freed alone.
 */
void *arena_alloc(struct arena *a, size_t n);
/*
 * Forget every allocation but keep the newest chunk, for an arena that
 * holds one item at a time: its next item is allocated without malloc.
 */
void arena_reset(struct arena *a);
/* Free every chunk; the arena is then empty and reusable. */
void arena_release(struct arena *a);

#endif
