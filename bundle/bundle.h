/*
 * bundle.h - read and write TensorFlow V2 checkpoints ("tensor bundles").
 *
 * A bundle is PREFIX.index (an SSTable mapping tensor names to
 * BundleEntryProto) plus PREFIX.data-SSSSS-of-NNNNN shards holding the tensor
 * bytes. The on-disk format, as this code implements it, is described in
 * docs/checkpoint-format.md.
 *
 * Conventions of this header:
 * - Every fallible function returns 0 on success or a negative errno:
 *     -ENOENT  missing file or tensor      -EINVAL  bad argument
 *     -EBADMSG corrupt index or tensor     -ENOTSUP unsupported feature
 *     -EIO     short read / I/O error      -ENOMEM  out of memory
 *   and writes a one-line message naming the file and the problem into the
 *   caller's buffer (err, errlen); err may be NULL. The library never prints
 *   and never exits.
 * - Keys are byte strings (pointer + length): slice keys contain NUL bytes.
 * - Out-parameters are written only on success.
 * - Readers are immutable after open: any number of threads may call the
 *   const functions and bundle_read_tensor() on one reader concurrently.
 */
#ifndef CKPTFS_BUNDLE_BUNDLE_H
#define CKPTFS_BUNDLE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

/* A size that holds any message this library writes. */
#define BUNDLE_ERR_MAX 1024

/* TensorFlow's DataType numbers (types.proto). */
enum bundle_dtype {
	BUNDLE_DT_INVALID = 0,
	BUNDLE_DT_FLOAT = 1,
	BUNDLE_DT_DOUBLE = 2,
	BUNDLE_DT_INT32 = 3,
	BUNDLE_DT_UINT8 = 4,
	BUNDLE_DT_INT16 = 5,
	BUNDLE_DT_INT8 = 6,
	BUNDLE_DT_STRING = 7,
	BUNDLE_DT_COMPLEX64 = 8,
	BUNDLE_DT_INT64 = 9,
	BUNDLE_DT_BOOL = 10,
	BUNDLE_DT_BFLOAT16 = 14,
	BUNDLE_DT_UINT16 = 17,
	BUNDLE_DT_COMPLEX128 = 18,
	BUNDLE_DT_HALF = 19,
	BUNDLE_DT_RESOURCE = 20,
	BUNDLE_DT_VARIANT = 21,
	BUNDLE_DT_UINT32 = 22,
	BUNDLE_DT_UINT64 = 23,
	BUNDLE_DT_MAX = 33, /* DT_FLOAT4_E2M1FN, the last one we know */
};

/*
 * TensorFlow's Python name of a dtype ("float32", "string", "qint8"), or NULL
 * for a number this library does not know.
 */
const char *bundle_dtype_name(int dtype);

/*
 * Bytes per element for types stored as raw element bytes, 0 for string and
 * variant (variable-length encodings), -1 for unknown or unsaveable types.
 */
int bundle_dtype_size(int dtype);

/* TensorFlow's limit on tensor rank (TensorShape::IsValid). */
#define BUNDLE_MAX_RANK 254

/* One dimension of a partitioned variable's piece: length -1 = whole dim. */
struct bundle_extent {
	int64_t start;
	int64_t length;
};

/* Which piece of a full tensor a slice entry holds (TensorSliceProto). */
struct bundle_slice {
	int rank;
	struct bundle_extent *extents; /* rank items */
};

/*
 * One index entry (BundleEntryProto) in plain C. A reader hands entries out
 * by value, expanded from a compact record; key, dims and slices then point
 * into the reader's memory, valid until bundle_close() or
 * bundle_release_entries(). The fields are ordered to leave no padding;
 * initialise them by name.
 */
struct bundle_entry {
	const char *key; /* NUL-terminated for printing; may contain NULs */
	size_t key_len;
	int64_t *dims;               /* rank sizes, outermost first */
	int64_t offset;              /* within data shard shard_id */
	int64_t size;                /* bytes of the tensor's encoding */
	size_t n_slices;             /* > 0: a partitioned full-tensor entry; the fields */
	struct bundle_slice *slices; /* shard_id, offset, size, crc32c are then unused */
	int dtype;
	int rank; /* number of dims; 0 for a scalar */
	int32_t shard_id;
	uint32_t crc32c; /* masked CRC32C, exactly as stored */
};

/* ---------------------------------------------------------------- reading */

struct bundle_reader;

/*
 * Find the checkpoint prefix a user-given path means, in this order: a
 * prefix (PATH.index exists); a directory with a `checkpoint` state file
 * (its model_checkpoint_path, relative to that directory when relative); a
 * SavedModel directory (PATH/variables/variables.index); a SavedModel's
 * variables/ directory (PATH/variables.index).
 * On success *prefix_out is a malloc'd string the caller frees. -ENOENT
 * when none of these is there; the real errno (-EACCES, -ELOOP...) when
 * what is there cannot be examined. A `checkpoint` state file that exists
 * but is not a regular file, cannot be opened or is over 1 MiB is an
 * error, not "no state file".
 */
int bundle_resolve_prefix(const char *path, char **prefix_out, char *err, size_t errlen);

/*
 * Open a checkpoint read-only: resolve path (as above), parse PREFIX.index
 * strictly (footer, block CRCs, restarts, sorted unique keys, header, every
 * entry), open every data shard O_RDONLY and check that every entry lies
 * within its shard. The shard fds stay open until bundle_close(): deleting
 * or replacing the files afterwards does not change what the reader sees.
 * Every file is opened without blocking and must be a regular file (a FIFO
 * in a file's place is refused, not waited on); the index is read block by
 * block, so its size does not set the memory used, and data shards are
 * opened one by one up to the count the header declares.
 * On success *out is a reader the caller closes with bundle_close().
 */
int bundle_open(const char *path, struct bundle_reader **out, char *err, size_t errlen);

/*
 * Flags of bundle_open_flags().
 * BUNDLE_OPEN_PUBLIC: the reader's bytes will be shown to every user (a
 * mount with allow_other). Refuse any file it opens (the index, every data
 * shard, a directory's `checkpoint` state file) that not every user could
 * read directly: the opened file must be readable by others (S_IROTH) and
 * every directory on its real path enterable by others (S_IXOTH). Checked
 * on the open fd, so replacing a file by a symlink cannot slip through.
 */
#define BUNDLE_OPEN_PUBLIC 1u

/* bundle_open() with flags (0 is bundle_open()). */
int bundle_open_flags(const char *path, unsigned flags, struct bundle_reader **out, char *err,
		      size_t errlen);

/*
 * bundle_open_flags() that also opens remote checkpoints: a path that is
 * an s3://, http:// or https:// URL is resolved the same way (a prefix,
 * a directory's `checkpoint` object, a SavedModel) with objects of st
 * (store/store.h; borrowed, must outlive the reader), its index fetched
 * whole and parsed as a local one, each data shard opened as an object
 * (one small request: no data moves) whose fd is its cache file. Each
 * shard gets its tensors as verification units: before reading bytes of
 * a remote shard's fd, call bundle_fetch(). st may be NULL when path is
 * local. BUNDLE_OPEN_PUBLIC refuses a remote checkpoint read with
 * credentials (every user would see what they open).
 */
struct store;
struct store_obj;
int bundle_open_store(const char *path, unsigned flags, struct store *st,
		      struct bundle_reader **out, char *err, size_t errlen);

/* Shard i's remote object (valid until bundle_close()), or NULL when
 * the checkpoint is local. */
struct store_obj *bundle_shard_obj(const struct bundle_reader *r, int shard);

/*
 * Make bytes [off, off + len) of shard `shard` readable from its fd: for
 * a remote shard, fetch (and verify) the tensors they touch; nothing for
 * a local one. 0, or a negative errno with a message.
 */
int bundle_fetch(const struct bundle_reader *r, int shard, int64_t off, int64_t len, char *err,
		 size_t errlen);

/* One data shard handed to bundle_reader_adopt(). */
struct bundle_shard_file {
	const char *path; /* borrowed; copied: bundle_shard_path() gives it back */
	int fd;           /* owned by the reader from the call on (closed on failure too) */
	int64_t size;     /* the file's size when it was opened */
};

/*
 * A reader over a checkpoint in another format (view/ reads safetensors
 * files this way: bundle/ knows no other format): index (index_len bytes,
 * copied) is a .index a caller built with bundle_index_builder, whose
 * entries place the tensors in the n shards, and whose CRC32Cs are not
 * known (bundle_has_crcs() is 0: bundle_read_tensor() checks nothing).
 * The index is parsed as strictly as a file's, its shard count must be n
 * and every tensor must lie in its shard. name stands for the prefix in
 * messages and bundle_prefix(). The shards' fds are the reader's even on
 * failure. *out is closed with bundle_close().
 */
int bundle_reader_adopt(const char *name, const uint8_t *index, size_t index_len,
			const struct bundle_shard_file *shards, size_t n,
			struct bundle_reader **out, char *err, size_t errlen);

/* 1 if the entries carry TensorFlow's CRC32Cs, 0 for bundle_reader_adopt()'s. */
int bundle_has_crcs(const struct bundle_reader *r);

/*
 * Open one file of a source as bundle_open_flags() opens a data shard
 * (what names it in messages): a regular file, never blocking, and with
 * BUNDLE_OPEN_PUBLIC only one every user could read. The fd (the
 * caller's) and the size in *size, or a negative errno with a message.
 */
int bundle_open_source_file(const char *path, const char *what, unsigned flags, int64_t *size,
			    char *err, size_t errlen);

/* The path of data shard `shard`, malloc'd (caller frees), or NULL. */
char *bundle_shard_path(const struct bundle_reader *r, int shard);

/* Close a reader and its fds; NULL is ignored. */
void bundle_close(struct bundle_reader *r);

/* The resolved prefix, e.g. "/ckpt/model.ckpt-1000". Owned by r. */
const char *bundle_prefix(const struct bundle_reader *r);

int bundle_num_shards(const struct bundle_reader *r);

/*
 * The file name of data shard `shard` of num_shards: PREFIX.data-SSSSS-of-
 * NNNNN. Returns a malloc'd string the caller frees, or NULL (no memory).
 */
char *bundle_shard_name(const char *prefix, int shard, int num_shards);

/* fd of data shard i, O_RDONLY, owned by r; its size at open time. */
int bundle_shard_fd(const struct bundle_reader *r, int shard);
int64_t bundle_shard_size(const struct bundle_reader *r, int shard);

/*
 * Entries in key order, without the header. Slice (piece) entries are
 * included; bundle_entry_is_piece() tells them apart.
 */
size_t bundle_num_entries(const struct bundle_reader *r);
/* Entry i. REQUIRES: i < bundle_num_entries(r). */
struct bundle_entry bundle_entry_at(const struct bundle_reader *r, size_t i);

/*
 * Where entry i's bytes are: bundle_entry_at(r, i)'s shard_id, offset and
 * size without expanding the rest, for sorting a million entries by place.
 * REQUIRES: i < bundle_num_entries(r).
 */
void bundle_entry_place(const struct bundle_reader *r, size_t i, int32_t *shard_id, int64_t *offset,
			int64_t *size);

/* What bundle_find() and bundle_index_find() return for a missing key. */
#define BUNDLE_NOT_FOUND ((size_t)-1)

/* The number of the entry with exactly this key, or BUNDLE_NOT_FOUND. O(log n). */
size_t bundle_find(const struct bundle_reader *r, const char *key, size_t key_len);
/* The entry with exactly this key, stored in *out; returns out, or NULL. */
const struct bundle_entry *bundle_lookup(const struct bundle_reader *r, const char *key,
					 size_t key_len, struct bundle_entry *out);

/*
 * Free every entry (keys, dims, slices), keeping the shard fds: for a
 * caller done with the index but not with the data, such as a merge whose
 * own index is built. bundle_num_entries() is 0 afterwards, and entries
 * handed out before must no longer be used.
 */
void bundle_release_entries(struct bundle_reader *r);

/*
 * TensorFlow's key order: bytewise (memcmp), a proper prefix first.
 * Returns <0, 0 or >0.
 */
int bundle_key_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Whether an entry is a partitioned variable's piece (its key begins 0x00). */
int bundle_entry_is_piece(const struct bundle_entry *e);

/*
 * A printable name for messages: the key, or for a piece its variable's
 * name and slice, e.g. "part[4:3,-]" (start:length per dim, '-' = whole).
 * Writes into buf (always NUL-terminated) and returns buf.
 */
const char *bundle_entry_name(const struct bundle_entry *e, char *buf, size_t len);

/*
 * Read e's bytes (e->size of them) into buf and check its CRC32C the way
 * TensorFlow does (numeric, string and variant layouts). -EBADMSG on a
 * mismatch, -EIO on a short read (a shard truncated after open).
 * REQUIRES: e belongs to r; buf holds e->size bytes.
 */
int bundle_read_tensor(const struct bundle_reader *r, const struct bundle_entry *e, void *buf,
		       char *err, size_t errlen);

/* ------------------------------------------------------- parsing an index */

struct bundle_index;

/*
 * Parse the bytes of a .index file (name is used in messages only). The
 * same strict checks as bundle_open() minus everything about data shards.
 * buf is copied where needed; the caller may free it after the call.
 * On success *out is freed by bundle_index_free().
 */
int bundle_index_parse(const char *name, const uint8_t *buf, size_t len, struct bundle_index **out,
		       char *err, size_t errlen);
void bundle_index_free(struct bundle_index *idx);
int bundle_index_num_shards(const struct bundle_index *idx);
size_t bundle_index_num_entries(const struct bundle_index *idx);
/* REQUIRES: i < bundle_index_num_entries(idx). */
struct bundle_entry bundle_index_entry_at(const struct bundle_index *idx, size_t i);
/* bundle_entry_place() of an index. */
void bundle_index_entry_place(const struct bundle_index *idx, size_t i, int32_t *shard_id,
			      int64_t *offset, int64_t *size);
/* The number of the entry with exactly this key, or BUNDLE_NOT_FOUND. */
size_t bundle_index_find(const struct bundle_index *idx, const char *key, size_t len);
/* bundle_release_entries() of an index. */
void bundle_index_release_entries(struct bundle_index *idx);

/* ---------------------------------------------------------------- writing */

struct bundle_index_builder;

/*
 * Build .index bytes the way TensorFlow's BundleWriter does (same block
 * sizes, separators, header, uncompressed blocks): entries re-encoded from a
 * real index come out byte-identical. Add entries in strictly increasing
 * key order (memcmp; -EINVAL otherwise); the first error is sticky and
 * returned again by finish.
 */
int bundle_index_builder_new(int num_shards, struct bundle_index_builder **out);
int bundle_index_builder_add(struct bundle_index_builder *b, const char *key, size_t key_len,
			     const struct bundle_entry *e);
/*
 * On success *out is a malloc'd buffer of *len bytes the caller frees. The
 * builder can only be freed afterwards.
 */
int bundle_index_builder_finish(struct bundle_index_builder *b, uint8_t **out, size_t *len,
				char *err, size_t errlen);
void bundle_index_builder_free(struct bundle_index_builder *b);

/*
 * Serialize one entry as TensorFlow would (BundleEntryProto bytes).
 * On success *out is malloc'd (*len bytes), caller frees.
 */
int bundle_entry_encode(const struct bundle_entry *e, uint8_t **out, size_t *len);

/*
 * A writer for a whole single-shard bundle: PREFIX.data-00000-of-00001 and
 * PREFIX.index, each written under a temporary name and renamed into place
 * on finish (index last), as TensorFlow does, so an interrupted writer
 * leaves no half-written checkpoint. Tensors go to the data file in the
 * order they are added; keys may be added in any order (sorted at finish).
 */
struct bundle_writer;

int bundle_writer_open(const char *prefix, struct bundle_writer **out, char *err, size_t errlen);

/*
 * Add a tensor whose encoded bytes are in memory (for strings, the §4.3
 * layout; see bundle_string_encode). The CRC is computed here.
 * e supplies key, dtype, rank, dims (and slices for a full-tensor entry of
 * a partitioned variable, with data NULL and len 0); shard_id, offset,
 * size and crc32c are ignored and set by the writer.
 */
int bundle_writer_add(struct bundle_writer *w, const struct bundle_entry *e, const void *data,
		      size_t len);

/*
 * Add a tensor copied from an open file: len bytes at src_off of src_fd,
 * with copy_file_range (a reflink or in-kernel copy where the file system
 * can) and e->crc32c kept as given, since the bytes do not change.
 */
int bundle_writer_add_from_fd(struct bundle_writer *w, const struct bundle_entry *e, int src_fd,
			      int64_t src_off);

/*
 * Add an entry whose bytes the writer already holds at offset (the same
 * tensor under a second name shares them), keeping e->crc32c.
 * -EINVAL if [offset, offset + e->size) is not inside what was written.
 */
int bundle_writer_add_alias(struct bundle_writer *w, const struct bundle_entry *e, int64_t offset);

/* Bytes appended to the data file so far: the next tensor's offset. */
int64_t bundle_writer_size(const struct bundle_writer *w);

/*
 * Add a tensor of e->size zero bytes as a hole in the data file (no disk
 * space used); the CRC is computed here in O(log size). For benchmarks that
 * need terabyte-sized checkpoints.
 */
int bundle_writer_add_zeros(struct bundle_writer *w, const struct bundle_entry *e);

/* Write the index, fsync-free, rename both files into place. */
int bundle_writer_finish(struct bundle_writer *w, char *err, size_t errlen);

/* Free a writer; if finish did not succeed, remove its temporary files. */
void bundle_writer_free(struct bundle_writer *w);

/* ------------------------------------------------------------ checksums */

/* CRC32C (Castagnoli) continued from crc (0 to start), and TF's masking. */
uint32_t bundle_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t bundle_crc_mask(uint32_t crc);
uint32_t bundle_crc_unmask(uint32_t masked);

/*
 * The unmasked checksum TensorFlow stores (masked) for a tensor of dtype
 * with n_elements elements encoded in buf[0..len): CRC32C of the bytes for
 * numeric types, the §4.3/§4.4 checksums for string and variant.
 * -EBADMSG if a string/variant encoding is malformed.
 */
int bundle_tensor_crc(int dtype, int64_t n_elements, const uint8_t *buf, size_t len,
		      uint32_t *crc_out);

/*
 * Encode n strings in TensorFlow's DT_STRING layout. On success *out is
 * malloc'd (*len bytes), caller frees.
 */
int bundle_string_encode(const char *const *strs, const size_t *lens, size_t n, uint8_t **out,
			 size_t *len);

/* Room for the longest header of a one-string tensor (bundle_string_head). */
#define BUNDLE_STRING_HEAD_MAX (10 + 4)

/*
 * The header that comes before the len bytes of a one-string (scalar)
 * DT_STRING tensor: varint64 len, then the masked CRC32C of the length.
 * Writes it at head (room for BUNDLE_STRING_HEAD_MAX bytes) and returns its
 * size; followed by the string's bytes it is bundle_string_encode() of that
 * one string, for a caller that writes the bytes in place.
 */
size_t bundle_string_head(uint64_t len, uint8_t *head);

/*
 * Where the string of a one-string tensor's bytes (buf, size bytes) lies:
 * *off bytes into buf, *len bytes long. Bytes after it are ignored, as
 * TensorFlow ignores them; the length checksum is not checked here (it is
 * part of the entry's CRC, which bundle_read_tensor() checks). -EBADMSG,
 * without a message, if the header is cut short or the string runs past
 * size.
 */
int bundle_string_scalar(const uint8_t *buf, size_t size, size_t *off, size_t *len);

/* Element count of a shape; -1 if it overflows int64 or a dim is < 0. */
int64_t bundle_num_elements(int rank, const int64_t *dims);

/* ------------------------------------------------ partitioned variables */

/*
 * Key of the piece `slice` of tensor `name` (TensorFlow's
 * EncodeTensorNameSlice, OrderedCode). On success *out is malloc'd
 * (*len bytes), caller frees.
 */
int bundle_slice_key_encode(const char *name, size_t name_len, const struct bundle_slice *slice,
			    char **out, size_t *len);

/*
 * Decode a piece key into the tensor name and slice. On success *name
 * (*name_len bytes, NUL-terminated) and slice->extents are malloc'd, caller
 * frees both. -EBADMSG if key is not a well-formed piece key.
 */
int bundle_slice_key_decode(const char *key, size_t key_len, char **name, size_t *name_len,
			    struct bundle_slice *slice);

#endif /* CKPTFS_BUNDLE_BUNDLE_H */
