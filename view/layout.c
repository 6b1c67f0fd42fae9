/*
 * layout.c - place the merged tensors' bytes in virtual data files and
 * synthesize the .index and `checkpoint` files.
 *
 * single: one PREFIX.data-00000-of-00001. Tensors are packed in source
 *   order (source name, shard, offset), not key order: TensorFlow's restore
 *   sorts reads by (shard, offset) anyway, and in source order neighbouring
 *   tensors of one shard coalesce into one extent. Nothing but the used
 *   tensors' bytes is in the file: the bytes between two used tensors
 *   belong to tensors the merge does not hold (an excluded embedding, a
 *   teacher's head), and those must never be readable through it.
 *   Identical or overlapping references (one tensor under two names) share
 *   bytes.
 * shards: one virtual data file per used source shard, byte-identical to
 *   it (one extent); the index only renumbers shard ids (what TF's own
 *   MergeBundles does, without moving files). Such a file shows the
 *   shard's unused tensors too, unless `unmapped = hidden` (or the shard is
 *   remote: fetching unused tensors would cost bytes): its unused ranges
 *   are then zero extents, and the daemon serves it.
 */
#define _GNU_SOURCE /* F_DUPFD_CLOEXEC */
#include "view/view_impl.h"

#include "store/store.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * One tensor's bytes in a source shard, and the target that wants them:
 * made from a target when needed (ref_at), so that the placing order is
 * 4 bytes per tensor (a target number), not a copy of these fields.
 */
struct ref {
	uint32_t rank; /* the source's place in name order: sort key */
	uint32_t source;
	int32_t shard;
	int64_t off;
	int64_t size;
	size_t target;
};

/* What the sort and the placing need to turn a target number into a ref. */
struct refs_ctx {
	const struct view *v;
	const uint32_t *rank; /* per source */
};

static struct ref ref_at(const struct refs_ctx *c, uint32_t i)
{
	const struct view_target *t = &c->v->targets[i];
	uint32_t source;
	int32_t shard;
	int64_t off, size;

	if (t->synth) /* after every source's bytes */
		return (struct ref){ UINT32_MAX, LAYOUT_SYNTH, 0, 0, c->v->graph_entry.size, i };
	source = (uint32_t)view_target_source(c->v, t);
	/* called twice per comparison of a sort: only the place, not the entry */
	bundle_entry_place(c->v->readers[source], t->entry, &shard, &off, &size);
	return (struct ref){ c->rank[source], source, shard, off, size, i };
}

/* Source order; equal bytes under two names in target order. */
static int cmp_ref(const void *a, const void *b, void *ctx)
{
	const struct ref x = ref_at(ctx, *(const uint32_t *)a);
	const struct ref y = ref_at(ctx, *(const uint32_t *)b);

	if (x.rank != y.rank)
		return x.rank < y.rank ? -1 : 1;
	if (x.shard != y.shard)
		return x.shard < y.shard ? -1 : 1;
	if (x.off != y.off)
		return x.off < y.off ? -1 : 1;
	if (x.size != y.size)
		return x.size < y.size ? -1 : 1;
	return (x.target > y.target) - (x.target < y.target);
}

/*
 * Rank of each source by name, so that the bytes of the merged files do
 * not depend on the order of `source` lines. NULL on ENOMEM.
 */
static uint32_t *source_ranks(const struct mapping *m)
{
	uint32_t *rank = calloc(m->n_sources + 1, sizeof(*rank));

	for (size_t i = 0; rank && i < m->n_sources; i++)
		for (size_t j = 0; j < m->n_sources; j++)
			rank[i] += strcmp(m->sources[j].name, m->sources[i].name) < 0;
	return rank;
}

/*
 * The targets that have bytes (a partitioned full entry has none), by
 * number, in the order their bytes are placed. NULL on ENOMEM.
 */
static uint32_t *collect_refs(const struct refs_ctx *c, size_t *n)
{
	const struct view *v = c->v;
	uint32_t *order;

	*n = 0;
	for (size_t i = 0; i < v->n_targets; i++)
		*n += !view_target_src(v, &v->targets[i]).n_slices;
	order = malloc((*n + 1) * sizeof(*order));
	if (!order)
		return NULL;
	*n = 0;
	for (size_t i = 0; i < v->n_targets; i++)
		if (!view_target_src(v, &v->targets[i]).n_slices)
			order[(*n)++] = (uint32_t)i;
	qsort_r(order, *n, sizeof(*order), cmp_ref, (void *)c);
	return order;
}

int view_keep_fd(struct view *v, int fd, struct store_obj *obj)
{
	int *fds = util_grow(v->fds, &v->cap_fds, v->n_fds + 1, sizeof(*fds));
	struct store_obj **objs =
		fds ? util_grow(v->objs, &v->cap_objs, v->n_fds + 1, sizeof(*objs)) : NULL;

	if (fds)
		v->fds = fds;
	if (objs)
		v->objs = objs;
	if (!objs) {
		close(fd);
		return -ENOMEM;
	}
	v->objs[v->n_fds] = obj ? store_obj_ref(obj) : NULL;
	v->fds[v->n_fds++] = fd;
	return fd;
}

/* dup the shard's fd: the view outlives the readers (view_compact). */
static int add_fd(struct view *v, const struct ref *r)
{
	int fd = fcntl(r->source == LAYOUT_SYNTH ? v->graph_fd
						 : bundle_shard_fd(v->readers[r->source], r->shard),
		       F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	return view_keep_fd(v, fd,
			    r->source == LAYOUT_SYNTH
				    ? NULL
				    : bundle_shard_obj(v->readers[r->source], r->shard));
}

static int new_pair(const struct ref *r, const struct ref *prev)
{
	return !prev || prev->source != r->source || prev->shard != r->shard;
}

static int push_extent(struct view_data *d, size_t *cap, const struct view_extent *x)
{
	void *p = util_grow(d->ext, cap, d->n + 1, sizeof(*d->ext));

	if (!p)
		return -ENOMEM;
	d->ext = p;
	d->ext[d->n++] = *x;
	return 0;
}

static int place_single(struct view *v, const struct refs_ctx *c, const uint32_t *order, size_t n,
			struct view_data *d, uint64_t *size)
{
	struct view_extent *cur = NULL;
	struct ref first = { 0 }, prev = { 0 }; /* a ref of the first extent */
	size_t cap = 0;
	int fd = -1;

	for (size_t i = 0; i < n; i++) {
		const struct ref ref = ref_at(c, order[i]), *r = &ref;
		struct view_target *out = &v->targets[r->target];
		int fresh = new_pair(r, i ? &prev : NULL);

		if (fresh && (fd = add_fd(v, r)) < 0)
			return fd;
		if (r->size && (!cur || cur->fd != fd || r->off > cur->soff + (int64_t)cur->len)) {
			struct view_extent x = { *size, r->off, 0, fd };

			if (push_extent(d, &cap, &x))
				return -ENOMEM;
			cur = &d->ext[d->n - 1];
			if (d->n == 1)
				first = *r;
		}
		if (r->size && r->off + r->size > cur->soff + (int64_t)cur->len)
			cur->len = (uint64_t)(r->off + r->size - cur->soff);
		if (cur)
			*size = cur->voff + cur->len;
		out->shard = 0;
		out->offset = r->size ? (int64_t)cur->voff + (r->off - cur->soff) : (int64_t)*size;
		prev = *r;
	}
	/* everything of one shard, gaps included: the file is that shard */
	d->whole =
		d->n == 1 && d->ext[0].soff == 0 && first.source != LAYOUT_SYNTH &&
		(int64_t)d->ext[0].len == bundle_shard_size(v->readers[first.source], first.shard);
	return 0;
}

/* Whether data file d of the shards layout hides its shard's unused tensors. */
static int hides_unmapped(const struct view *v, const struct view_data *d)
{
	if (d->source == LAYOUT_SYNTH)
		return 0;
	return v->m->unmapped == MAPPING_UNMAPPED_HIDDEN ||
	       bundle_shard_obj(v->readers[d->source], d->shard) != NULL;
}

/* The used ranges of one shard so far, merged: [i][0] start, [i][1] end. */
struct used {
	int64_t (*r)[2];
	size_t n, cap;
	uint64_t bytes;
};

static int use_range(struct used *u, int64_t off, int64_t size)
{
	void *g;

	if (size <= 0)
		return 0;
	if (u->n && off <= u->r[u->n - 1][1]) { /* sorted by offset: extend */
		if (off + size > u->r[u->n - 1][1])
			u->r[u->n - 1][1] = off + size;
		return 0;
	}
	g = util_grow(u->r, &u->cap, u->n + 1, sizeof(*u->r));
	if (!g)
		return -ENOMEM;
	u->r = g;
	u->r[u->n][0] = off;
	u->r[u->n][1] = off + size;
	u->n++;
	return 0;
}

/* Whether [off, off + size) lies inside one used range (binary search). */
static int covered(const struct used *u, int64_t off, int64_t size)
{
	size_t lo = 0, hi = u->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->r[mid][1] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < u->n && u->r[lo][0] <= off && off + size <= u->r[lo][1];
}

/* The source entries of d's shard whose bytes no used range covers. */
static void count_exposed(const struct view *v, struct view_data *d, const struct used *u)
{
	const struct bundle_reader *r = v->readers[d->source];

	d->exposed_bytes = (uint64_t)bundle_shard_size(r, d->shard);
	for (size_t i = 0; i < u->n; i++)
		d->exposed_bytes -= (uint64_t)(u->r[i][1] - u->r[i][0]);
	for (size_t i = 0; i < bundle_num_entries(r); i++) {
		int32_t shard;
		int64_t off, size;

		bundle_entry_place(r, i, &shard, &off, &size);
		if (shard == d->shard && size > 0 && !covered(u, off, size))
			d->exposed_tensors++;
	}
}

/*
 * Finish a data file of the shards layout once its refs are placed: a
 * file that hides unused tensors becomes its used ranges (the shard's
 * fd) with zero extents (fd -1) between them; one that shows them keeps
 * its one extent and counts what it shows.
 */
static int finish_shard_file(const struct view *v, struct view_data *d, struct used *u)
{
	uint64_t size = d->ext[0].len, at = 0;
	int fd = d->ext[0].fd;
	size_t cap = 0;

	if (d->source == LAYOUT_SYNTH)
		return 0;
	if (!hides_unmapped(v, d)) {
		count_exposed(v, d, u);
		return 0;
	}
	free(d->ext);
	d->ext = NULL;
	d->n = 0;
	d->whole = 0;
	for (size_t i = 0; i <= u->n; i++) {
		uint64_t from = i < u->n ? (uint64_t)u->r[i][0] : size;
		struct view_extent zero = { at, 0, from - at, -1 };
		struct view_extent used;

		if (from > at && push_extent(d, &cap, &zero))
			return -ENOMEM;
		if (i == u->n)
			break;
		used = (struct view_extent){ from, (int64_t)from,
					     (uint64_t)(u->r[i][1] - u->r[i][0]), fd };
		if (push_extent(d, &cap, &used))
			return -ENOMEM;
		at = (uint64_t)u->r[i][1];
	}
	/* every tensor used: nothing hidden, the file is its shard again */
	d->whole = d->n == 1 && d->ext[0].fd >= 0 && d->ext[0].len == size;
	return 0;
}

static int place_shards(struct view *v, const struct refs_ctx *c, const uint32_t *order, size_t n,
			struct view_data *d, size_t *n_data)
{
	struct ref prev = { 0 };
	struct used u = { 0 };
	int32_t id = -1;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct ref ref = ref_at(c, order[i]), *r = &ref;
		struct view_target *out = &v->targets[r->target];

		if (new_pair(r, i ? &prev : NULL)) {
			int fd;

			if (id >= 0 && (rc = finish_shard_file(v, &d[id], &u)))
				break;
			u.n = 0;
			fd = add_fd(v, r);
			if (fd < 0) {
				rc = fd;
				break;
			}
			d[++id].ext = malloc(sizeof(*d->ext));
			if (!d[id].ext) {
				rc = -ENOMEM;
				break;
			}
			d[id].ext[0] = (struct view_extent){
				0, 0,
				(uint64_t)(r->source == LAYOUT_SYNTH
						   ? v->graph_entry.size
						   : bundle_shard_size(v->readers[r->source],
								       r->shard)),
				fd
			};
			d[id].n = 1;
			/* the rewritten object graph is a memfd, not a shard */
			d[id].whole = r->source != LAYOUT_SYNTH;
			d[id].source = r->source;
			d[id].shard = r->shard;
		}
		rc = use_range(&u, r->off, r->size);
		out->shard = id;
		prev = *r;
	}
	if (rc == 0 && id >= 0)
		rc = finish_shard_file(v, &d[id], &u);
	free(u.r);
	*n_data = (size_t)(id + 1);
	return rc;
}

static char *file_name(const char *prefix, const char *suffix)
{
	size_t n = strlen(prefix) + strlen(suffix) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s%s", prefix, suffix);
	return s;
}

/*
 * For each source, the last target in key order that reads it (SIZE_MAX
 * for none), so that build_index() can free the source's entries right
 * after it. NULL on ENOMEM.
 */
static size_t *last_targets(const struct view *v)
{
	size_t *last = malloc((v->m->n_sources + 1) * sizeof(*last));

	for (size_t s = 0; last && s < v->m->n_sources; s++)
		last[s] = SIZE_MAX;
	for (size_t i = 0; last && i < v->n_targets; i++)
		if (!v->targets[i].synth)
			last[view_target_source(v, &v->targets[i])] = i;
	return last;
}

/*
 * The merged index, in key order. With v->release_sources, a source's
 * entries go as soon as its last tensor is in: in a merge of whole
 * sources (each a run of keys) the merged index grows as they shrink.
 */
static int build_index(struct view *v, int num_shards, char *err, size_t errlen)
{
	struct bundle_index_builder *b;
	size_t *last = NULL;
	int rc;

	if (v->release_sources && !(last = last_targets(v)))
		return -ENOMEM;
	rc = bundle_index_builder_new(num_shards, &b);
	if (rc) {
		free(last);
		return rc;
	}

	for (size_t i = 0; rc == 0 && i < v->n_targets; i++) {
		const struct view_target *t = &v->targets[i];
		const struct bundle_entry e = view_target_entry(v, t);

		rc = bundle_index_builder_add(b, e.key, e.key_len, &e);
		/* the key may be the source's: it goes only after the add */
		if (last && !t->synth && last[view_target_source(v, t)] == i)
			bundle_release_entries(v->readers[view_target_source(v, t)]);
	}
	free(last);
	if (rc == 0 || rc == -EINVAL)
		rc = bundle_index_builder_finish(b, &v->index, &v->index_len, err, errlen);
	bundle_index_builder_free(b);
	return rc;
}

/* text-format CheckpointState with a relative path: TF joins it to the dir. */
static char *state_text(const char *prefix)
{
	size_t n = 2 * strlen(prefix) + 1;
	char *q = malloc(n), *w = q, *s;

	if (!q)
		return NULL;
	for (const char *p = prefix; *p; p++) {
		if (*p == '"' || *p == '\\')
			*w++ = '\\';
		*w++ = *p;
	}
	*w = '\0';
	n = 2 * strlen(q) + 80;
	s = malloc(n);
	if (s)
		snprintf(s, n,
			 "model_checkpoint_path: \"%s\"\n"
			 "all_model_checkpoint_paths: \"%s\"\n",
			 q, q);
	free(q);
	return s;
}

static int make_files(struct view *v, struct view_data *data, size_t n_data)
{
	size_t nf = n_data + 2;

	v->files = calloc(nf, sizeof(*v->files));
	v->data = calloc(nf, sizeof(*v->data));
	v->state = state_text(v->prefix);
	if (!v->files || !v->data || !v->state)
		return -ENOMEM;
	v->n_files = nf;
	v->files[0] = (struct view_file){ strdup("checkpoint"), VIEW_FILE_STATE, strlen(v->state),
					  (uint8_t *)v->state, strlen(v->state) };
	for (size_t i = 0; i < n_data; i++) {
		struct view_data *d = &data[i];

		v->data[i + 1] = *d;
		v->files[i + 1] = (struct view_file){
			bundle_shard_name(v->prefix, (int)i, (int)n_data), VIEW_FILE_DATA,
			d->n ? d->ext[d->n - 1].voff + d->ext[d->n - 1].len : 0, NULL, 0
		};
	}
	v->files[nf - 1] = (struct view_file){ file_name(v->prefix, ".index"), VIEW_FILE_INDEX,
					       v->index_len, v->index, v->index_len };
	for (size_t i = 0; i < nf; i++)
		if (!v->files[i].name)
			return -ENOMEM;
	return 0;
}

/*
 * How many data files the layout can make at most, and fds it dups: one
 * per source shard, and the rewritten object graph's. Sized by files,
 * not by tensors.
 */
static size_t max_files(const struct view *v)
{
	size_t n = 1;

	for (size_t i = 0; i < v->m->n_sources; i++)
		n += (size_t)bundle_num_shards(v->readers[i]);
	return n;
}

int layout_build(struct view *v, char *err, size_t errlen)
{
	uint32_t *rank = source_ranks(v->m);
	const struct refs_ctx c = { v, rank };
	size_t n_refs, n_data = 1, max = max_files(v);
	uint32_t *order = rank ? collect_refs(&c, &n_refs) : NULL;
	struct view_data *data = calloc(max, sizeof(*data));
	uint64_t size = 0;
	int rc = order && data ? 0 : -ENOMEM;

	if (rc == 0 && v->layout == MAPPING_LAYOUT_SINGLE)
		rc = place_single(v, &c, order, n_refs, &data[0], &size);
	else if (rc == 0)
		rc = place_shards(v, &c, order, n_refs, data, &n_data);
	free(order);
	free(rank);
	if (rc == 0 && n_data == 0)
		n_data = 1; /* nothing with bytes: one empty data file */
	/* only a TensorFlow checkpoint shows CRC32Cs: none are read otherwise */
	if (rc == 0 && v->format != MAPPING_FORMAT_SAFETENSORS)
		rc = st_crc_compute(v, err, errlen);
	if (rc == 0)
		rc = build_index(v, (int)n_data, err, errlen);
	if (rc == 0)
		rc = make_files(v, data, n_data);
	/* extents moved into v->data are the view's; the rest are ours */
	for (size_t i = 0; rc && !v->data && data && i < max; i++)
		free(data[i].ext);
	free(data);
	if (rc == -ENOMEM || (rc < 0 && rc != -EINVAL)) {
		const struct mapping_pos file = { v->m->file, 0, 0 };

		view_errf(err, errlen, rc, &file, "cannot lay out the merged checkpoint: %s",
			  strerror(-rc));
	}
	return rc;
}
