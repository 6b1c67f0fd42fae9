/*
 * keys.h - the merged index's target names in one arena: chunks of
 * VIEW_KEYS_CHUNK bytes, filled in order and never moved, so a million
 * names cost their bytes and a few frees, not a million mallocs (each with
 * its own header and rounding). Private to view/.
 */
#ifndef CKPTFS_VIEW_KEYS_H
#define CKPTFS_VIEW_KEYS_H

#include <stddef.h>

#define VIEW_KEYS_CHUNK (256 * 1024)

struct view_keys_chunk;

struct view_keys {
	struct view_keys_chunk *head; /* owned list, newest first */
	size_t used, cap;             /* bytes used and held in head */
};

/*
 * The la bytes of a then the lb bytes of b as one NUL-terminated key (it
 * may hold NULs), owned by k; NULL on ENOMEM or when the key would be
 * longer than UINT32_MAX bytes (a target's key_len). Zero-initialise k.
 */
char *view_keys_add(struct view_keys *k, const char *a, size_t la,
		    const char *b, size_t lb);
/* Free every key; k is then empty and reusable. */
void view_keys_release(struct view_keys *k);

#endif
