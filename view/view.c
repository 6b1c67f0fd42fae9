/*
 * view.c - what a built view holds: its tensors, sources and files (see
 * view.h). Reading the files' bytes is read.c's.
 */
#include "view/view_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/util.h"

size_t view_num_tensors(const struct view *v) { return v->n_targets; }
uint64_t view_tensor_bytes(const struct view *v) { return v->tensor_bytes; }
const char *view_prefix(const struct view *v) { return v->prefix; }
enum mapping_layout view_layout(const struct view *v) { return v->layout; }
size_t view_num_files(const struct view *v) { return v->n_files; }

struct bundle_entry view_target_src(const struct view *v, const struct view_target *t)
{
	if (t->synth)
		return v->graph_entry;
	return bundle_entry_at(v->readers[view_target_source(v, t)], t->entry);
}

struct bundle_entry view_target_entry(const struct view *v, const struct view_target *t)
{
	struct bundle_entry e = view_target_src(v, t);

	e.key = t->key;
	e.key_len = t->key_len;
	e.shard_id = t->shard;
	e.offset = t->offset;
	e.crc32c = st_crc_of(v, t, e.crc32c);
	return e;
}

void view_tensor_at(const struct view *v, size_t i, struct view_tensor *out)
{
	const struct view_target *t = &v->targets[i];
	const size_t source = view_target_source(v, t);
	const struct bundle_entry e = view_target_src(v, t);

	*out = (struct view_tensor){ t->key,
				     t->key_len,
				     view_target_entry(v, t),
				     source,
				     e.key,
				     e.key_len,
				     e,
				     t->synth ? v->graph_fd
					      : bundle_shard_fd(v->readers[source], e.shard_id),
				     t->synth };
}

char *view_data_source_path(const struct view *v, size_t file)
{
	const struct view_data *d;
	const struct bundle_reader *r;

	if (file >= v->n_files || v->files[file].kind != VIEW_FILE_DATA ||
	    v->layout != MAPPING_LAYOUT_SHARDS || !v->readers || !v->data[file].n)
		return NULL;
	d = &v->data[file];
	if (d->source == LAYOUT_SYNTH)
		return NULL; /* the rewritten object graph: in memory */
	r = v->readers[d->source];
	return bundle_shard_path(r, d->shard);
}

int view_data_whole_fd(const struct view *v, size_t file)
{
	struct store_obj *o;

	if (file >= v->n_files || v->files[file].kind != VIEW_FILE_DATA || !v->data[file].whole)
		return -1;
	o = view_extent_obj(v, &v->data[file].ext[0]);
	if (o && !store_obj_complete(o))
		return -1; /* a remote shard not yet all fetched and verified */
	return v->data[file].ext[0].fd;
}

void view_data_exposed(const struct view *v, size_t file, size_t *tensors, uint64_t *bytes)
{
	int data = file < v->n_files && v->files[file].kind == VIEW_FILE_DATA;

	*tensors = data ? v->data[file].exposed_tensors : 0;
	*bytes = data ? v->data[file].exposed_bytes : 0;
}

const char *view_source_prefix(const struct view *v, size_t source)
{
	return bundle_prefix(v->readers[source]);
}

const struct bundle_reader *view_source_reader(const struct view *v, size_t source)
{
	return v->readers ? v->readers[source] : NULL;
}

size_t view_source_tensors(const struct view *v, size_t source)
{
	return v->source_tensors[source];
}

int view_keep_blob(struct view *v, uint8_t *b)
{
	uint8_t **p = util_grow(v->blobs, &v->cap_blobs, v->n_blobs + 1, sizeof(*p));

	if (!p) {
		free(b);
		return -ENOMEM;
	}
	v->blobs = p;
	v->blobs[v->n_blobs++] = b;
	return 0;
}

/* Room for one more file; it is v->files[v->n_files], zeroed, not counted yet. */
int view_grow_files(struct view *v)
{
	struct view_file *f = realloc(v->files, (v->n_files + 1) * sizeof(*f));
	struct view_data *d;

	if (f)
		v->files = f;
	d = f ? realloc(v->data, (v->n_files + 1) * sizeof(*d)) : NULL;
	if (!d)
		return -ENOMEM;
	v->data = d;
	v->data[v->n_files] = (struct view_data){ .shard = -1 };
	v->files[v->n_files] = (struct view_file){ 0 };
	return 0;
}

/* A file name (owned) and its bytes (owned) shown from memory. */
int view_add_meta(struct view *v, char *name, uint8_t *mem, size_t len)
{
	int rc = view_keep_blob(v, mem);

	if (rc == 0)
		rc = view_grow_files(v);
	if (rc == 0 && !name)
		rc = -ENOMEM;
	if (rc) {
		free(name);
		return rc;
	}
	v->files[v->n_files++] = (struct view_file){ name, VIEW_FILE_META, len, mem, len };
	return 0;
}

int view_file_is_extents(const struct view_file *f)
{
	return f->kind == VIEW_FILE_DATA || f->kind == VIEW_FILE_SAFETENSORS;
}

const struct view_file *view_file_at(const struct view *v, size_t i)
{
	return i < v->n_files ? &v->files[i] : NULL;
}

long view_lookup(const struct view *v, const char *name)
{
	for (size_t i = 0; i < v->n_files; i++)
		if (!strcmp(v->files[i].name, name))
			return (long)i;
	return -1;
}

const struct view_target *view_find_target(const struct view *v, const char *key, size_t len)
{
	size_t lo = 0, hi = v->n_targets;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = bundle_key_cmp(v->targets[mid].key, v->targets[mid].key_len, key, len);

		if (c == 0)
			return &v->targets[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A string scalar's bytes (checkpoint-format.md §4.3): varint length, CRC, bytes. */
static int string_scalar(const uint8_t *buf, size_t len, size_t *off, size_t *n)
{
	uint64_t l = 0;
	size_t i = 0;

	for (int shift = 0; i < len && shift < 64; shift += 7) {
		l |= (uint64_t)(buf[i] & 0x7f) << shift;
		if (!(buf[i++] & 0x80)) {
			if (len - i < 4 || l != len - i - 4)
				return -EBADMSG;
			*off = i + 4;
			*n = (size_t)l;
			return 0;
		}
	}
	return -EBADMSG;
}

int view_object_graph(const struct view *v, struct objgraph **out, int *rewritten, char *err,
		      size_t errlen)
{
	const struct view_target *t =
		view_find_target(v, OBJGRAPH_TENSOR_KEY, strlen(OBJGRAPH_TENSOR_KEY));
	struct view_tensor vt;
	uint8_t *buf;
	size_t off, n;
	int rc;

	if (!t)
		return view_errf(err, errlen, -ENOENT, NULL,
				 "the merged checkpoint has no object graph");
	view_tensor_at(v, (size_t)(t - v->targets), &vt);
	buf = malloc((size_t)vt.source_entry.size + 1);
	if (!buf)
		return view_errf(err, errlen, -ENOMEM, NULL, "out of memory");
	rc = util_pread_full(vt.source_fd, buf, (size_t)vt.source_entry.size,
			     vt.source_entry.offset) == vt.source_entry.size
		     ? 0
		     : -EIO;
	if (rc == 0 && string_scalar(buf, (size_t)vt.source_entry.size, &off, &n))
		rc = -EBADMSG;
	if (rc)
		view_errf(err, errlen, rc, NULL, "cannot read the merged object graph: %s",
			  strerror(-rc));
	else
		rc = objgraph_parse(OBJGRAPH_TENSOR_KEY, buf + off, n, out, err, errlen);
	if (rc == 0 && rewritten)
		*rewritten = t->synth;
	free(buf);
	return rc;
}
