/*
 * tfplugin.h - the TensorFlow file system plugin's core, in C and free of
 * TensorFlow types: it turns a ckptfs:// path into a built view and a file
 * of it, and keeps one view per mapping file. plugin.cc adapts it to
 * TensorFlow's C filesystem interface (which is C++ only: constexpr);
 * the unit tests drive it directly.
 *
 * A path is what TensorFlow hands the plugin for "ckptfs://" + PATH:
 * the absolute path of a mapping file (the merged directory) or that path
 * + "/" + NAME, a file of the merged directory.
 *
 * Errors: 0 or a negative errno, with a message in the caller's (err,
 * errlen) buffer; a broken mapping gives the "FILE:LINE:COL: error: ..."
 * text `ckptfs check` prints. Nothing here prints.
 *
 * Thread safety: every function may be called from any number of threads
 * at once (TensorFlow's thread pool); a plan is immutable and reference
 * counted, so a file keeps the plan it was opened with even after its
 * mapping file changed and the cache built a new one.
 *
 * Which plan a path gets (docs/design.md, "How the TensorFlow plugin
 * serves a read"): the plan of the mapping file as it is now, except that
 * the data files follow the index. While a PREFIX.index of the mapping is
 * open (tfp_open), a data file (PREFIX.data-*) is resolved in the plan of
 * that index, so that a TensorFlow reader, which opens the index first and
 * its data files later, reads the data its index describes even if the
 * mapping changed in between.
 */
#ifndef CKPTFS_TFPLUGIN_TFPLUGIN_H
#define CKPTFS_TFPLUGIN_TFPLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "view/view.h"

/* A mapping parsed and built into a view, shared by reference. */
struct tfp_plan;

/* Plans by mapping file; owns one reference to each plan it holds. */
struct tfp_cache;

/* How many plans a cache keeps (the least recently used one goes). */
#define TFP_CACHE_PLANS 8
/* How many plans with an open index it follows (the oldest open goes). */
#define TFP_CACHE_OPEN_PLANS 16

/* NULL when out of memory; freed with tfp_cache_free. */
struct tfp_cache *tfp_cache_new(void);
/* Drops the cache's references; plans still referenced live on. */
void tfp_cache_free(struct tfp_cache *c);

/* What a path names. */
struct tfp_node {
	struct tfp_plan *plan; /* one reference, the caller's: tfp_plan_unref */
	long file;             /* a file of the view, or -1: the directory */
};

/*
 * Resolve path: read the mapping file, reuse the cached plan if the file
 * is the same (device, inode, size, mtime, ctime and every byte), else
 * parse those bytes and build a new plan (the old one lives on while
 * referenced). A data file of a mapping whose PREFIX.index is open comes
 * from the plan of that index instead: of the plans with an open index
 * and a data file of that name, the one whose index this thread opened
 * last, else the one whose index was opened last (a TensorFlow reader
 * mostly opens its index and its data files in one thread, and RestoreV2
 * runs one reader per thread of its pool).
 *
 * -ENOENT when path names neither a mapping file nor a file of one; a
 * mapping or source error as `ckptfs check` reports it, never as -ENOENT
 * (a missing source or tensor is -EINVAL: TensorFlow would take NOT_FOUND
 * for "no such file"). On success *out holds a reference.
 */
int tfp_resolve(struct tfp_cache *c, const char *path, struct tfp_node *out, char *err,
		size_t errlen);

/*
 * Resolve path to open it as a file (TensorFlow's NewRandomAccessFile):
 * tfp_resolve, and if it is the merged PREFIX.index, the data files of the
 * mapping follow its plan until tfp_close.
 */
int tfp_open(struct tfp_cache *c, const char *path, struct tfp_node *out, char *err, size_t errlen);
/* Close what tfp_open opened and drop its reference (c may be gone). */
void tfp_close(struct tfp_node *node);

/* Another reference to p (for a file opened on it). */
struct tfp_plan *tfp_plan_ref(struct tfp_plan *p);
/* Drop one reference; the last frees the view and its mapping. NULL ok. */
void tfp_plan_unref(struct tfp_plan *p);

/* The built (compacted) view: only its virtual-tree calls are valid. */
const struct view *tfp_plan_view(const struct tfp_plan *p);
/* The mapping file's modification time, in nanoseconds since the epoch. */
int64_t tfp_plan_mtime_nsec(const struct tfp_plan *p);

/*
 * The paths pattern matches, as TensorFlow's GetMatchingPaths wants them:
 * `*`, `?`, `[...]` and `\` as in fnmatch(3), in the last component only
 * (the merged directory is flat; a pattern elsewhere is -ENOTSUP). A
 * leading "ckptfs://" is kept on every result. No match is not an error,
 * but a broken mapping is. On success *out holds *n malloc'd strings in
 * a malloc'd array (caller frees all).
 */
int tfp_glob(struct tfp_cache *c, const char *pattern, char ***out, size_t *n, char *err,
	     size_t errlen);

/*
 * Read [off, off+len) of file into buf (view_read: pread on the pinned
 * source shards straight into buf). ra: the open file's read-ahead state
 * for a remote merge (view_fetch_range), or NULL. Returns the bytes read
 * (fewer only at EOF) or a negative errno with a message naming path.
 */
int64_t tfp_read(const struct tfp_plan *p, size_t file, uint64_t off, size_t len, void *buf,
		 struct view_readahead *ra, const char *path, char *err, size_t errlen);

#endif /* CKPTFS_TFPLUGIN_TFPLUGIN_H */
