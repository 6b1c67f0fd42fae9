/*
 * view.h - the merged checkpoint as a pure, immutable plan: which tensors
 * of which sources appear under which names, the synthesized .index bytes,
 * and the virtual files with their extent tables. This library is the
 * heart of ckptfs; its front ends (the FUSE daemon in fs/, the commands
 * in cli/, the unit tests and fuzz_view) all use this same plan. It never
 * sees libfuse and never prints.
 *
 * Errors: 0 or a negative errno, with a message in the caller's (err,
 * errlen) buffer in mapping-file form ("FILE:LINE:COL: error: ...") when a
 * line is to blame. Nothing here prints.
 *
 * Thread safety: a view is immutable once built; every const function may
 * be called from any number of threads at once (the FUSE workers).
 */
#ifndef CKPTFS_VIEW_VIEW_H
#define CKPTFS_VIEW_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "mapping/mapping.h"

struct view;
struct store_options;

/* The prefix of a merge of safetensors sources whose mapping names none. */
#define VIEW_HF_PREFIX "model"

struct view_options {
	const char *prefix; /* NULL: the mapping's `prefix` */
	int layout;         /* -1: the mapping's `layout`; else mapping_layout */
	/*
	 * Nonzero: every user will read the view (a mount with allow_other),
	 * so refuse any source file not every user could read directly
	 * (bundle_open_flags() with BUNDLE_OPEN_PUBLIC).
	 */
	int public_sources;
	int format; /* -1: the mapping's `format`; else mapping_format */
	/*
	 * Nonzero: a tensor safetensors cannot hold (a string, a partitioned
	 * variable split along another dimension, ...) is an error, not a
	 * warning, when the view has a PREFIX.safetensors.
	 */
	int strict;
	/*
	 * Nonzero: view_build() ends with view_compact(), for a caller that
	 * serves the files and needs no plan afterwards (a mount). Each
	 * source's index is then freed as soon as the merged index holds its
	 * last tensor, so that the two are never all in memory at once.
	 */
	int compact;
	/*
	 * Sources that are URLs (s3://, https://) are read through a store
	 * the view makes and owns (store/store.h): these are its options
	 * (cache directory and size, timeout); NULL: the defaults and the
	 * environment. Borrowed for view_build() only.
	 */
	const struct store_options *remote;
};

/*
 * Open every source of m read-only, resolve the map/exclude lines against
 * them, check for conflicts, lay out the virtual data file(s) and build the
 * .index and `checkpoint` bytes. All of it happens here, so a mount that
 * starts after this succeeded cannot fail half-way.
 * m is borrowed: it must outlive the view (positions point into it).
 * On success *out is freed with view_free().
 */
int view_build(const struct mapping *m, const struct view_options *opt, struct view **out,
	       char *err, size_t errlen);
void view_free(struct view *v);

/* Warnings found while building ("FILE:LINE:COL: warning: ..."), owned by v. */
size_t view_num_warnings(const struct view *v);
const char *view_warning(const struct view *v, size_t i);

/* ------------------------------------------------------------ the plan */

/* One tensor of the merged checkpoint. Pointers are owned by v. */
struct view_tensor {
	const char *name; /* target key; NUL-terminated, may hold NULs */
	size_t name_len;
	/* as in the merged .index; its pointers are owned by v */
	struct bundle_entry entry;
	size_t source;          /* index into the mapping's sources */
	const char *source_key; /* the tensor's key in that source */
	size_t source_key_len;
	struct bundle_entry source_entry; /* as in the source's index; pointers owned by v */
	int source_fd;                    /* its data shard, O_RDONLY, owned by v */
	/*
	 * 1: the object graph a merge by object writes (no source has it;
	 * source_entry is its own, source_fd the memfd that holds it)
	 */
	int rewritten;
};

/* Merged entries in index (key) order, partitioned pieces included. */
size_t view_num_tensors(const struct view *v);
void view_tensor_at(const struct view *v, size_t i, struct view_tensor *out);

/* Bytes of tensor data the merged checkpoint references (pieces counted). */
uint64_t view_tensor_bytes(const struct view *v);
const char *view_prefix(const struct view *v);
enum mapping_layout view_layout(const struct view *v);

/* Per source: resolved prefix, tensors it contributes (pieces excluded). */
const char *view_source_prefix(const struct view *v, size_t source);
size_t view_source_tensors(const struct view *v, size_t source);

/*
 * Open a source as a mapping's `source` line does: a safetensors source
 * (view_is_safetensors_source) with view_open_safetensors(), anything
 * else as a checkpoint with bundle_open_store() (st may be NULL when the
 * path is local). *out is closed with bundle_close().
 */
struct store;
int view_open_source(const char *path, unsigned flags, struct store *st, struct bundle_reader **out,
		     char *err, size_t errlen);

/*
 * 1 if path is a safetensors source: a file whose name ends in
 * ".safetensors", or a directory holding model.safetensors.index.json or
 * model.safetensors (a Hugging Face model directory). Only stats.
 */
int view_is_safetensors_source(const char *path);

/*
 * Open a safetensors source as a reader (bundle_reader_adopt): every
 * file's header parsed strictly, a directory's index.json checked against
 * them (a missing shard, a tensor one names and the other does not, a
 * tensor in another shard than it says: errors naming both), each tensor
 * an entry at its file offset, without a CRC32C (bundle_has_crcs() is 0).
 * flags as bundle_open_flags()'s. *out is closed with bundle_close().
 */
int view_open_safetensors(const char *path, unsigned flags, struct bundle_reader **out, char *err,
			  size_t errlen);

/*
 * The open reader of a source (its shards, their fds), owned by v and
 * valid until view_compact(); for callers that must know which files a
 * source uses, e.g. so as never to write over one.
 */
const struct bundle_reader *view_source_reader(const struct view *v, size_t source);

/*
 * For a data file of the `shards` layout: the path of the source shard it
 * is identical to (malloc'd, caller frees); NULL for other files/layouts.
 */
char *view_data_source_path(const struct view *v, size_t file);

struct objgraph;

/*
 * The object graph the merged checkpoint carries (objgraph/objgraph.h): the
 * rewritten one of a merge by object, or a source's own, kept. -ENOENT
 * when it carries none (a name-based merge), -EBADMSG/-EIO if its bytes
 * cannot be read or parsed. *rewritten (may be NULL) says which. On
 * success *out is freed with objgraph_free(). Valid until view_compact().
 */
int view_object_graph(const struct view *v, struct objgraph **out, int *rewritten, char *err,
		      size_t errlen);

/* ----------------------------------------------------- the virtual tree */

enum view_file_kind {
	VIEW_FILE_STATE, /* `checkpoint`, text */
	VIEW_FILE_INDEX, /* PREFIX.index, in memory */
	VIEW_FILE_DATA,  /* PREFIX.data-SSSSS-of-NNNNN, extents */
	/*
	 * PREFIX.safetensors, extents: the header (from memory, through a
	 * memfd) then the tensors' bytes in the source shards.
	 */
	VIEW_FILE_SAFETENSORS,
	/* a small file from memory: the Hugging Face index.json of a sharded
	 * safetensors output */
	VIEW_FILE_META,
};

struct view_file {
	const char *name; /* owned by v */
	enum view_file_kind kind;
	uint64_t size; /* exact */
	/* STATE, INDEX and META: the bytes; SAFETENSORS: its header; DATA: NULL */
	const uint8_t *mem;
	size_t mem_len; /* bytes at mem (the size, but for SAFETENSORS) */
};

/* Whether a file's bytes are extents (view_map_range), not just mem. */
int view_file_is_extents(const struct view_file *f);

/*
 * Files of the root directory, in readdir order. Stable: file i keeps its
 * number for the life of the view (the daemon's inode is i + 2).
 */
size_t view_num_files(const struct view *v);
const struct view_file *view_file_at(const struct view *v, size_t i);
/* Index of the file called name, or -1. */
long view_lookup(const struct view *v, const char *name);

/*
 * If data file `file` is byte for byte one source shard, whole (a file of
 * the `shards` layout that shows its shard, or hides none of it; a
 * `single` file that uses all of one shard), the fd of that shard (owned
 * by v, valid until view_free; O_RDONLY for a local shard, the cache file
 * for a remote one, and then only once every byte of it is fetched and
 * verified); else -1. The kernel may then read the shard itself (FUSE
 * passthrough). Valid after view_compact().
 */
int view_data_whole_fd(const struct view *v, size_t file);

/* A piece of a read: len bytes of fd at off. */
struct view_piece {
	int fd; /* a source shard, O_RDONLY, owned by v; -1: len zero bytes */
	int64_t off;
	size_t len;
};

/*
 * Translate a read of data file `file` at [off, off+len) into source
 * pieces, clipped at the end of the file (*n = 0 at or past EOF). At most
 * max pieces are written; -E2BIG if more would be needed (the caller then
 * uses view_read). -EINVAL if file is not one of extents (DATA,
 * SAFETENSORS).
 */
int view_map_range(const struct view *v, size_t file, uint64_t off, size_t len,
		   struct view_piece *out, size_t max, size_t *n);

/*
 * A data file of the shards layout that is its source shard whole shows
 * the shard's tensors the merge does not hold: how many (*tensors) and
 * how many bytes (*bytes) that are in no used tensor. 0 and 0 for every
 * other file (`unmapped = hidden` serves zeros there). Valid until
 * view_compact() for the count, always for the bytes.
 */
void view_data_exposed(const struct view *v, size_t file, size_t *tensors, uint64_t *bytes);

/* Whether some data file holds bytes of a remote source. */
int view_is_remote(const struct view *v);

/*
 * The read-ahead state of one open data file of a remote merge: a reader
 * that goes on where its last read ended gets the bytes after it fetched
 * in the background, in a window that doubles from 8 to 64 MiB while it
 * keeps going (and closes when it jumps). Owned by whoever opened the
 * file (zeroed at open); a hint only, so threads reading one open file
 * may share it unlocked: a race costs bandwidth, never a wrong byte.
 */
struct view_readahead {
	uint64_t next;   /* where the last read ended */
	uint64_t issued; /* fetched in the background up to here */
	uint64_t win;    /* the window; 0: not reading ahead */
};

/*
 * Make [off, off+len) of data file `file` readable through the pieces
 * view_map_range() gives: the remote bytes among them fetched, verified
 * and cached (whole tensors; see store/store.h), then, when ra is not
 * NULL, the bytes after them read ahead (see struct view_readahead).
 * Nothing to do for local sources. 0, or a negative errno (-EIO: a
 * transfer failed or its bytes did not match the index's CRC32C;
 * -ETIMEDOUT) with a message naming the object and range. Thread-safe.
 */
int view_fetch_range(const struct view *v, size_t file, uint64_t off, size_t len,
		     struct view_readahead *ra, char *err, size_t errlen);

/*
 * Copy [off, off+len) of any file into buf (pread for data files). Returns
 * the bytes copied (short only at EOF) or a negative errno: -EIO when a
 * source shard is shorter than at mount time (truncated in place).
 */
int64_t view_read(const struct view *v, size_t file, uint64_t off, size_t len, void *buf);

/*
 * Drop everything the daemon does not need to serve files (source indexes,
 * the tensor list), keeping the index bytes, the extent tables and the
 * shard fds. Afterwards only the "virtual tree" functions may be called.
 */
void view_compact(struct view *v);

#endif /* CKPTFS_VIEW_VIEW_H */
