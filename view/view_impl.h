/*
 * view_impl.h - the inside of struct view, shared by the files of view/:
 * build.c drives a build, plan.c resolves the mapping, layout.c places
 * bytes and synthesizes the index, warn.c collects warnings, view.c and
 * read.c serve. Private to view/.
 */
#ifndef CKPTFS_VIEW_VIEW_IMPL_H
#define CKPTFS_VIEW_VIEW_IMPL_H

#include <stdarg.h>

#include "objgraph/objgraph.h"
#include "view/keys.h"
#include "view/view.h"

/*
 * One entry of the merged index: its source entry with a new key, shard
 * and offset (the rest, dtype to slices, is the source's). 32 bytes, not
 * a copy of the entry: a merge of a million tensors holds a million.
 */
struct view_target {
	char *key;      /* in view.keys or a source's index, NUL-terminated */
	int64_t offset; /* in data file `shard` (the source's if sliced) */
	uint32_t key_len;
	uint32_t map : 31;  /* the map line (index in m->maps) */
	uint32_t synth : 1; /* the rewritten object graph: bytes in view.graph_fd */
	int32_t shard;
	/* its entry's number in the reader of its map line's source */
	uint32_t entry;
};

/*
 * The source entry target t stands for (view.graph_entry for the rewritten
 * graph): by value, pointing into its reader (see bundle_entry_at).
 */
struct bundle_entry view_target_src(const struct view *v, const struct view_target *t);

/* The target's entry as the merged .index holds it. */
struct bundle_entry view_target_entry(const struct view *v, const struct view_target *t);

/* [voff, voff+len) of a data file is [soff, soff+len) of fd, or zeros
 * when fd is -1 (bytes of tensors a merge hides). */
struct view_extent {
	uint64_t voff;
	int64_t soff;
	uint64_t len;
	int fd;
};

/*
 * layout.c: keep fd (owned from now on, closed by view_free) as one the
 * view's extents read, with obj the remote object it is the cache file of
 * (a reference is taken) or NULL. Returns fd, or -ENOMEM (fd closed).
 */
int view_keep_fd(struct view *v, int fd, struct store_obj *obj);

/* view.c: keep b (owned from now on, freed by view_free). 0, or -ENOMEM
 * (b freed). */
int view_keep_blob(struct view *v, uint8_t *b);

/*
 * view.c: view_grow_files makes room for one more file, v->files[v->n_files]
 * (zeroed, its view_data too), not counted yet; view_add_meta adds a file
 * name (owned from now on) shown from memory, mem (len bytes; owned from
 * now on, kept with view_keep_blob). 0 or -ENOMEM (what was handed over
 * freed).
 */
int view_grow_files(struct view *v);
int view_add_meta(struct view *v, char *name, uint8_t *mem, size_t len);

/* read.c: the remote object extent x reads from (its fd is that object's
 * cache file), or NULL for a local shard or the object graph. */
struct store_obj *view_extent_obj(const struct view *v, const struct view_extent *x);

/* view_data.source of the file holding the rewritten object graph */
#define LAYOUT_SYNTH UINT32_MAX

struct view_data {
	struct view_extent *ext; /* owned, sorted by voff, contiguous */
	size_t n;
	uint32_t source; /* shards layout: the source shard it mirrors */
	int32_t shard;
	/* 1: one extent that is its source shard whole, byte for byte */
	int whole;
	/* shards layout, a file that shows its shard whole: the tensors (and
	 * bytes) of the shard that the merge does not hold, readable in it */
	size_t exposed_tensors;
	uint64_t exposed_bytes;
};

struct view {
	const struct mapping *m; /* borrowed */
	char *prefix;            /* owned */
	enum mapping_layout layout;
	unsigned open_flags;            /* for bundle_open_flags() */
	struct bundle_reader **readers; /* owned, m->n_sources; NULL after compact */
	size_t *source_tensors;         /* owned, m->n_sources */
	char **warnings;                /* owned */
	size_t n_warnings, cap_warnings;
	struct view_target *targets; /* owned, sorted by key */
	size_t n_targets, cap_targets;
	struct util_arena keys; /* owned: the targets' keys (keys.h) */
	uint64_t tensor_bytes;
	int *fds; /* owned: dups of used shard fds (view_keep_fd) */
	size_t n_fds, cap_fds, cap_objs;
	/* owned, n_fds items: the remote object fds[i] is the cache file
	 * of (a reference), or NULL for a local shard */
	struct store_obj **objs;
	struct store *store;                /* owned; NULL when no source is remote */
	const struct store_options *remote; /* borrowed during view_build */
	struct view_file *files;            /* owned; names owned */
	struct view_data *data;             /* owned, one per file (n = 0 unless DATA) */
	size_t n_files;
	uint8_t *index; /* owned */
	size_t index_len;
	char *state; /* owned; the `checkpoint` text */
	/* TF2 sources read by object paths (objmerge_impl.h); NULL when none is */
	struct objmerge *om; /* owned; freed by view_compact */
	int keep_graph;      /* an identity mount: the root rule carries the graph */
	int graph_fd;        /* owned, -1 if none: a sealed memfd, the new graph's bytes */
	struct bundle_entry graph_entry; /* its entry (offset 0 of graph_fd) */
	/* owned, each owned: bytes files show from memory (the safetensors
	 * headers, the index.json) */
	uint8_t **blobs;
	size_t n_blobs, cap_blobs;
	/* layout.c may free each source's entries once the index is past it */
	int release_sources;
	enum mapping_format format; /* the files the view shows */
	/* owned (st_crc.c): per source, NULL, or for a source without CRC32Cs
	 * one slot per entry, (1 << 32 | masked CRC32C) once computed */
	uint64_t **crcs;
};

/* The source a target's bytes and entry come from: its map line's. */
static inline size_t view_target_source(const struct view *v, const struct view_target *t)
{
	return (size_t)v->m->maps[t->map].source;
}

/* view.c: the target called key (len bytes), or NULL; O(log n) while
 * v->targets is sorted (after plan_resolve, before view_compact). */
const struct view_target *view_find_target(const struct view *v, const char *key, size_t len);

/* plan.c: open sources, apply excludes and maps into v->targets (sorted). */
int plan_resolve(struct view *v, char *err, size_t errlen);

/*
 * TF2 sources merged by object (objmerge.c, objpath.c, objemit.c; their
 * shared inside is objmerge_impl.h). objmerge_open (after the sources are
 * open) decides which sources are read by object paths and reads their
 * graphs; objmerge_exclude counts the edges exclude line x cuts in source
 * s; objmerge_map applies a map line of such a source; objmerge_finish
 * builds the new graph and says which targets plan.c is to add for it
 * (struct objmerge_targets).
 */
int objmerge_open(struct view *v, char *err, size_t errlen);
int objmerge_is_object_source(const struct view *v, size_t s);
/*
 * Whether map line `map` is read by object paths: a line of an object
 * source whose FROM is the root or an object path, or is neither an
 * object path nor a tensor name (or scope of names) of the source, so
 * that its error speaks of objects. A line naming tensors of a TF2 source
 * by key is refused while the merge is by object (objmerge_refuse_key_line).
 */
int objmerge_is_object_line(const struct view *v, size_t map);
size_t objmerge_exclude(const struct view *v, size_t x, size_t s);
int objmerge_map(struct view *v, size_t map, char *err, size_t errlen);
/*
 * The error for map line `map` of an object source that names tensor keys
 * (not objects) while the merge is by object: its keys would be renamed
 * outside the graph, so tf.train.Checkpoint would restore nothing of them.
 * Says which object line to write instead. Returns -EINVAL.
 */
int objmerge_refuse_key_line(const struct view *v, size_t map, char *err, size_t errlen);

/*
 * One thing objmerge_finish asks of plan.c: add a target `key` for entry
 * `at` of map line `map`'s source, with its pieces re-keyed; or, if
 * rename, give target number `at` (a tensor a line brought by name, under
 * `checkpoint = object-based`) and its pieces the key `key`.
 */
struct objmerge_target {
	const char *key; /* NUL-terminated; in objmerge_targets.keys */
	uint32_t at;
	uint32_t map : 31;
	uint32_t rename : 1;
};

/*
 * What objmerge_finish made: the targets in the order to apply them (it
 * decides which line a name produced twice reports), then, if graph, the
 * target of the rewritten object graph (v->graph_entry, its bytes in
 * v->graph_fd), brought by map line graph_map. Caller-owned;
 * objmerge_targets_release frees it.
 */
struct objmerge_targets {
	struct objmerge_target *t; /* owned */
	size_t n;
	char **keys; /* owned, each owned: the keys t[] points to */
	size_t n_keys;
	int graph;
	uint32_t graph_map;
};

/*
 * Build the merged graph (its bytes into v->graph_fd) and fill *out
 * (zeroed by the caller) with the targets to add; on error too, *out is
 * the caller's to release.
 */
int objmerge_finish(struct view *v, struct objmerge_targets *out, char *err, size_t errlen);
void objmerge_targets_release(struct objmerge_targets *ts);
void objmerge_free(struct objmerge *om, size_t n_sources);

/*
 * st_crc.c: compute the CRC32C of every source tensor a target uses whose
 * source has none (a safetensors source), reading its bytes once; called
 * by layout.c before the index is built, when the view shows one.
 * st_crc_of: the CRC32C the merged index holds for t (stored, the
 * source's, unless computed). st_crc_free: free the tables.
 */
int st_crc_compute(struct view *v, char *err, size_t errlen);
uint32_t st_crc_of(const struct view *v, const struct view_target *t, uint32_t stored);
void st_crc_free(struct view *v);

/* files.c: add the mapping's `file` lines, each read whole into memory. */
int files_add(struct view *v, char *err, size_t errlen);

/* layout.c: place data, build files, extents and the index. */
int layout_build(struct view *v, char *err, size_t errlen);

/*
 * warn.c: a tensor name (len bytes) as messages show it, escaped the way
 * `ckptfs ls` shows names (util_escape with UTIL_ESCAPE_BACKSLASH), so a
 * name cannot act on the terminal that shows the message; cut with "..."
 * past VIEW_SHOWN_MAX bytes. Writes buf and returns it.
 */
#define VIEW_SHOWN_MAX 512
const char *view_shown(char *buf, const char *name, size_t len);

/*
 * errf.c: write an error into err (errlen bytes; err may be NULL) and
 * return code. At pos, in the mapping's compiler form, "FILE:LINE:COL:
 * error: MESSAGE" (mapping_diag; a position without a line or column
 * leaves it out); with pos NULL, the bare message. Every error of view/
 * is written here.
 */
__attribute__((format(printf, 5, 6))) int
view_errf(char *err, size_t errlen, int code, const struct mapping_pos *pos, const char *fmt, ...);

/* warn.c: record a warning (formatted like mapping_diag). */
__attribute__((format(printf, 3, 4))) int view_warn(struct view *v, const struct mapping_pos *pos,
						    const char *fmt, ...);

#endif
