/*
 * safetensors.h - the safetensors file format
 * (github.com/huggingface/safetensors) as a pure codec: a header's JSON to
 * tensors and back, and the dtype table between safetensors names and
 * TensorFlow dtypes. No files and no merges: view/ builds a merge's
 * .safetensors file with it, cli/ reads one.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON
 * {NAME: {"dtype", "shape", "data_offsets": [BEGIN, END)}, "__metadata__":
 * {string: string}}, then the data, whose offsets count from its start.
 *
 * Conventions as in bundle/bundle.h: 0 or a negative errno, a message in
 * the caller's (err, errlen) buffer where there is one (err may be NULL),
 * out-parameters written only on success; nothing here keeps state.
 */
#ifndef CKPTFS_SAFETENSORS_SAFETENSORS_H
#define CKPTFS_SAFETENSORS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* The longest header JSON (N bytes) there may be: the reference reader's limit. */
#define SAFETENSORS_MAX_HEADER 100000000

struct safetensors_tensor {
	char *name; /* owned by the header; UTF-8, may hold NULs */
	size_t name_len;
	int dtype; /* a bundle_dtype */
	int rank;
	uint64_t *dims;      /* owned by the header, rank items */
	uint64_t begin, end; /* within the data */
};

/*
 * The safetensors name of a TensorFlow dtype ("F32"), or NULL when
 * safetensors cannot hold it (string, variant, resource, complex,
 * quantized, int4, ...).
 */
const char *safetensors_dtype_name(int dtype);

/*
 * A TensorFlow dtype's place in the reference writer's dtype order, by
 * which it sorts tensors (larger first, so that each is aligned to its
 * element size), or -1 when safetensors cannot hold it.
 */
int safetensors_dtype_order(int dtype);

/* The TensorFlow dtype of a safetensors name (name, len bytes), or -1. */
int safetensors_dtype_by_name(const char *name, size_t len);

struct safetensors_header {
	struct safetensors_tensor *t; /* owned, in data order */
	size_t n;
	uint64_t data_len; /* bytes of data the tensors cover */
};

/*
 * The JSON's length N, from a file's first 8 bytes (prefix), checked
 * before anything is read or allocated for it: at most
 * SAFETENSORS_MAX_HEADER, and within a file of file_size bytes. 0, or
 * -EBADMSG with a message ("not a safetensors file (...)").
 */
int safetensors_header_len(const uint8_t prefix[8], uint64_t file_size, uint64_t *n, char *err,
			   size_t errlen);

/*
 * Parse a header's JSON (json, len bytes: the N bytes after the length)
 * of a file whose data is data_len bytes long, strictly: UTF-8, one
 * object of tensors {dtype, shape, data_offsets} (each field once, no
 * other) and at most one "__metadata__" of strings; dtypes of the table
 * (safetensors_dtype_name); offsets contiguous from 0 to exactly data_len;
 * each tensor's bytes its elements times their size; no name twice; no
 * dimension above INT64_MAX. *out is freed with safetensors_header_free().
 * -EBADMSG with a message naming the byte at fault, -ENOMEM.
 */
int safetensors_parse(const uint8_t *json, size_t len, uint64_t data_len,
		      struct safetensors_header **out, char *err, size_t errlen);
/* Free a header from safetensors_parse(), its names and dims; NULL is ignored. */
void safetensors_header_free(struct safetensors_header *h);

/*
 * Serialize n tensors, in the given (data) order, as a complete header:
 * the 8-byte length, the JSON (escaped as serde_json escapes), padded with
 * blanks to a multiple of 8. *out is malloc'd, caller frees. -EINVAL if a
 * name is not UTF-8 or a dtype has no safetensors name, -ENOMEM.
 */
int safetensors_serialize(const struct safetensors_tensor *t, size_t n, uint8_t **out, size_t *len);

/*
 * The length safetensors_serialize() would give for the same tensors (the
 * 8 bytes and the padded JSON), counted without building anything: a
 * header over SAFETENSORS_MAX_HEADER can be refused before it is made.
 * 0 if a name is not UTF-8 or a dtype has no safetensors name.
 */
size_t safetensors_serialized_len(const struct safetensors_tensor *t, size_t n);

/*
 * A Hugging Face sharded model's model.safetensors.index.json:
 * {"metadata": {...}, "weight_map": {TENSOR: SHARD_FILE}}.
 */
struct safetensors_index_entry {
	char *name; /* owned by the index; UTF-8, may hold NULs */
	size_t name_len;
	uint32_t file; /* index into safetensors_index.files */
};

struct safetensors_index {
	char **files; /* owned, each owned: the shard file names, sorted (strcmp) */
	size_t n_files;
	struct safetensors_index_entry *t; /* owned, sorted by name (bundle_key_cmp) */
	size_t n;
	uint64_t total_size; /* metadata.total_size, if has_total_size */
	int has_total_size;
};

/*
 * Parse an index.json (json, len bytes; what names it in messages)
 * strictly: UTF-8, one object of a "weight_map" of strings (required) and
 * a "metadata" of scalars (optional; its "total_size" an integer), each
 * once, nothing else; no tensor named twice; every shard a plain file
 * name (not empty, no '/', not "." or "..", no NUL). *out is freed with
 * safetensors_index_free(). -EBADMSG with a message naming the byte at
 * fault, -ENOMEM.
 */
int safetensors_index_parse(const uint8_t *json, size_t len, const char *what,
			    struct safetensors_index **out, char *err, size_t errlen);
/*
 * Write ix as Hugging Face's save_pretrained writes an index.json (indent
 * 2, "metadata" with total_size if has_total_size, then "weight_map"),
 * the tensors in ix->t's order (sorted, for save_pretrained's order).
 * *out is malloc'd (*len bytes, no NUL), caller frees. -EINVAL if a name
 * is not UTF-8 or a file number out of range, -ENOMEM.
 */
int safetensors_index_serialize(const struct safetensors_index *ix, uint8_t **out, size_t *len);

/* Free an index from safetensors_index_parse(); NULL is ignored. */
void safetensors_index_free(struct safetensors_index *ix);

#endif /* CKPTFS_SAFETENSORS_SAFETENSORS_H */
