/*
 * view.c - what a built view holds: its tensors, sources and files (see
 * view.h). Reading the files' bytes is read.c's.
 */
#include "view/view_impl.h"

#include <stdlib.h>
#include <string.h>

size_t view_num_tensors(const struct view *v) { return v->n_targets; }
uint64_t view_tensor_bytes(const struct view *v) { return v->tensor_bytes; }
const char *view_prefix(const struct view *v) { return v->prefix; }
enum mapping_layout view_layout(const struct view *v) { return v->layout; }
size_t view_num_files(const struct view *v) { return v->n_files; }

void view_tensor_at(const struct view *v, size_t i, struct view_tensor *out)
{
	const struct view_target *t = &v->targets[i];

	*out = (struct view_tensor){ t->key, t->key_len, &t->out, t->source,
				     t->src->key, t->src->key_len, t->src,
				     bundle_shard_fd(v->readers[t->source],
						     t->src->shard_id) };
}

char *view_data_source_path(const struct view *v, size_t file)
{
	const struct view_data *d;
	const struct bundle_reader *r;

	if (file >= v->n_files || v->files[file].kind != VIEW_FILE_DATA ||
	    v->layout != MAPPING_LAYOUT_SHARDS || !v->readers || !v->data[file].n)
		return NULL;
	d = &v->data[file];
	r = v->readers[d->source];
	return bundle_shard_name(bundle_prefix(r), d->shard,
				 bundle_num_shards(r));
}

int view_data_whole_fd(const struct view *v, size_t file)
{
	if (file >= v->n_files || v->files[file].kind != VIEW_FILE_DATA ||
	    !v->data[file].whole)
		return -1;
	return v->data[file].ext[0].fd;
}

const char *view_source_prefix(const struct view *v, size_t source)
{
	return bundle_prefix(v->readers[source]);
}

const struct bundle_reader *view_source_reader(const struct view *v,
					       size_t source)
{
	return v->readers ? v->readers[source] : NULL;
}

size_t view_source_tensors(const struct view *v, size_t source)
{
	return v->source_tensors[source];
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
