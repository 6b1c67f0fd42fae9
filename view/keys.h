/*
 * keys.h - the merged index's target names, held in the view's arena
 * (util_arena, in chunks of VIEW_KEYS_CHUNK bytes), so a million names
 * cost their bytes and a few frees, not a million mallocs (each with its
 * own header and rounding). Private to view/.
 */
#ifndef CKPTFS_VIEW_KEYS_H
#define CKPTFS_VIEW_KEYS_H

#include <stddef.h>

#include "util/util.h"

#define VIEW_KEYS_CHUNK (256 * 1024)

/*
 * The la bytes of a then the lb bytes of b as one NUL-terminated key (it
 * may hold NULs), owned by keys; NULL on ENOMEM or when the key would be
 * longer than UINT32_MAX bytes (a target's key_len). keys is the view's
 * arena, its chunk set to VIEW_KEYS_CHUNK; util_arena_release() frees
 * every key.
 */
char *view_keys_add(struct util_arena *keys, const char *a, size_t la, const char *b, size_t lb);

#endif
