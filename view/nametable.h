/*
 * nametable.h - a hash set of byte-string names (XXH3) mapping each to a
 * caller's number: how an object merge (objmerge.c) finds a merged node's
 * child by (parent, name) in O(1), so that `checkpoint = object-based`
 * over a flat scope of a million names stays linear. A zeroed struct is an
 * empty table that grows on insert.
 */
#ifndef CKPTFS_VIEW_NAMETABLE_H
#define CKPTFS_VIEW_NAMETABLE_H

#include <stddef.h>
#include <stdint.h>

struct nametable_slot;

struct nametable {
	struct nametable_slot *slots; /* owned */
	size_t cap;                   /* power of two */
	size_t n;
};

/* Size the table for about n names. 0 or -ENOMEM. */
int nametable_init(struct nametable *t, size_t n);
void nametable_release(struct nametable *t);

/*
 * Insert name -> value. Names are borrowed: they must outlive the table.
 * Returns 1 if inserted, 0 if the name was already there (*old gets its
 * value), -ENOMEM.
 */
int nametable_insert(struct nametable *t, const char *name, size_t len, uint32_t value,
		     uint32_t *old);

/* 1 and *value set if name (len bytes) is in t, else 0. */
int nametable_find(const struct nametable *t, const char *name, size_t len, uint32_t *value);

#endif
