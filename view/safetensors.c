/*
 * safetensors.c - PREFIX.safetensors: the merged tensors as one
 * safetensors file, without copying them. The file is the header (built
 * here, served from a memfd so that it is an extent like any other) and
 * then each tensor's bytes, straight from its source shard: TensorFlow
 * and safetensors both store numeric tensors as raw little-endian
 * row-major elements (checkpoint-format.md §4). A partitioned variable
 * is one tensor made of runs of its pieces' bytes (st_slices.c).
 */
#define _GNU_SOURCE /* memfd_create, F_DUPFD_CLOEXEC */
#include "view/st_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "safetensors/safetensors.h"
#include "util/util.h"

/* Left-out tensors named in the warning; the rest are counted. */
#define SHOWN_LEFT_OUT 8

/* One tensor of the file; its bytes are runs [first, first + n). */
struct item {
	const struct view_target *t;
	int order;
	uint64_t bytes;
	size_t first, n;
};

struct st {
	struct view *v;
	struct item *items;
	size_t n_items, cap_items;
	struct st_runs runs;
	char left[900]; /* the left-out names, as the warning shows them */
	size_t n_left;
	int **fds; /* per source, per shard: its dup, or -1 */
};

/* One file of the output: items [first, first + n), sorted by cmp_item. */
struct shard {
	size_t first, n;
	uint64_t bytes;
};

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->order != y->order)
		return x->order > y->order ? -1 : 1;
	return bundle_key_cmp(x->t->key, x->t->key_len, y->t->key, y->t->key_len);
}

static void leave_out(struct st *s, const struct view_target *t, const char *why)
{
	char shown[VIEW_SHOWN_MAX];
	size_t used = strlen(s->left);

	if (s->n_left++ < SHOWN_LEFT_OUT)
		snprintf(s->left + used, sizeof(s->left) - used, "%s'%.100s' (%s)",
			 used ? ", " : "", view_shown(shown, t->key, t->key_len), why);
}

/* Bytes of e's elements, or -1 when they overflow. */
static int64_t tensor_bytes(const struct bundle_entry *e)
{
	int64_t n = bundle_num_elements(e->rank, e->dims);
	int64_t size = bundle_dtype_size(e->dtype);

	if (n < 0 || size <= 0 || n > INT64_MAX / size)
		return -1;
	return n * size;
}

static int push_whole(struct st_runs *r, const struct view_target *t, int64_t size)
{
	struct st_run *p = util_grow(r->run, &r->cap, r->n + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	r->run = p;
	p[r->n++] = (struct st_run){ t, 0, (uint64_t)size };
	return 0;
}

/* Why t cannot be in the file, or NULL. */
static const char *unfit(const struct view_target *t, const struct bundle_entry *e)
{
	if (t->key_len && t->key[0] == '\0')
		return ""; /* a piece: its variable stands for it */
	if (!util_is_utf8(t->key, t->key_len))
		return "name not UTF-8";
	if (t->key_len == 12 && !memcmp(t->key, "__metadata__", 12))
		return "name reserved by safetensors";
	if (t->key_len == 28 && !memcmp(t->key, "_CHECKPOINTABLE_OBJECT_GRAPH", 28))
		return "TF2 object graph";
	if (safetensors_dtype_order(e->dtype) < 0)
		return bundle_dtype_name(e->dtype);
	return NULL;
}

static int add_target(struct st *s, const struct view_target *t)
{
	const struct bundle_entry e = view_target_src(s->v, t);
	const char *why = unfit(t, &e);
	int64_t bytes = tensor_bytes(&e);
	size_t first = s->runs.n;
	struct item *it;
	int rc = 0;

	if (!why && bytes < 0)
		why = "too large";
	if (!why && e.n_slices)
		rc = st_tile(s->v, t, bytes, &s->runs, &why);
	else if (!why && e.size != bytes)
		return -EBADMSG;
	else if (!why)
		rc = push_whole(&s->runs, t, e.size);
	if (rc)
		return rc;
	if (why) {
		s->runs.n = first;
		if (*why)
			leave_out(s, t, why);
		return 0;
	}
	it = util_grow(s->items, &s->cap_items, s->n_items + 1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	s->items = it;
	it[s->n_items++] = (struct item){ t, safetensors_dtype_order(e.dtype), (uint64_t)bytes,
					  first, s->runs.n - first };
	return 0;
}

/* The header of items [first, first + n) in their (sorted) order. */
static int header(struct st *s, size_t first, size_t n, uint8_t **out, size_t *len)
{
	struct safetensors_tensor *t = calloc(n + 1, sizeof(*t));
	uint64_t off = 0;
	int rc;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct item *it = &s->items[first + i];
		const struct bundle_entry e = view_target_src(s->v, it->t);

		t[i] = (struct safetensors_tensor){ it->t->key,     it->t->key_len,     e.dtype,
						    e.rank,         (uint64_t *)e.dims, off,
						    off + it->bytes };
		off += it->bytes;
	}
	/* dims are int64 >= 0 (the bundle checked): same bits as uint64 */
	rc = safetensors_serialize(t, n, out, len);
	free(t);
	return rc;
}

/* The view's own fd of a source shard (the readers go at compact). */
static int shard_fd(struct st *s, uint32_t source, int32_t shard)
{
	const struct bundle_reader *r = s->v->readers[source];
	int fd;

	if (!s->fds[source]) {
		int n = bundle_num_shards(r);

		s->fds[source] = malloc((size_t)n * sizeof(int));
		if (!s->fds[source])
			return -ENOMEM;
		for (int i = 0; i < n; i++)
			s->fds[source][i] = -1;
	}
	if (s->fds[source][shard] >= 0)
		return s->fds[source][shard];
	fd = fcntl(bundle_shard_fd(r, shard), F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a remote shard's cache file: reads of it fetch through its object */
	fd = view_keep_fd(s->v, fd, bundle_shard_obj(r, shard));
	if (fd >= 0)
		s->fds[source][shard] = fd;
	return fd;
}

static int header_fd(struct view *v, const uint8_t *hdr, size_t len)
{
	int fd = memfd_create("ckptfs-safetensors-header", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, hdr, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	return view_keep_fd(v, fd, NULL);
}

static int push_extent(struct view_data *d, size_t *cap, uint64_t voff, int64_t soff, uint64_t len,
		       int fd)
{
	struct view_extent *x = d->n ? &d->ext[d->n - 1] : NULL;

	if (!len)
		return 0;
	if (x && x->fd == fd && x->soff + (int64_t)x->len == soff) {
		x->len += len; /* neighbours in the source: one extent */
		return 0;
	}
	x = util_grow(d->ext, cap, d->n + 1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	d->ext = x;
	d->ext[d->n++] = (struct view_extent){ voff, soff, len, fd };
	return 0;
}

static int extents(struct st *s, const struct shard *sh, const uint8_t *hdr, size_t hdr_len,
		   struct view_data *d, uint64_t *size)
{
	size_t cap = 0;
	int fd = header_fd(s->v, hdr, hdr_len);
	int rc = fd < 0 ? fd : push_extent(d, &cap, 0, 0, hdr_len, fd);

	*size = hdr_len;
	for (size_t i = sh->first; rc == 0 && i < sh->first + sh->n; i++) {
		const struct item *it = &s->items[i];

		for (size_t k = it->first; rc == 0 && k < it->first + it->n; k++) {
			const struct st_run *run = &s->runs.run[k];
			const struct bundle_entry e = view_target_src(s->v, run->t);

			fd = shard_fd(s, view_target_source(s->v, run->t), e.shard_id);
			rc = fd < 0 ? fd
				    : push_extent(d, &cap, *size, e.offset + (int64_t)run->off,
						  run->len, fd);
			*size += run->len;
		}
	}
	return rc;
}

/* Drop the TensorFlow files (format = safetensors): the view shows the others. */
static void drop_tf_files(struct view *v)
{
	size_t n = 0;

	for (size_t i = 0; i < v->n_files; i++) {
		enum view_file_kind k = v->files[i].kind;

		if (k == VIEW_FILE_STATE || k == VIEW_FILE_INDEX || k == VIEW_FILE_DATA) {
			free((char *)v->files[i].name);
			free(v->data[i].ext);
			continue;
		}
		v->files[n] = v->files[i];
		v->data[n++] = v->data[i];
	}
	v->n_files = n;
}

/* Shard sh as the file name (owned from now on), its header hdr (owned too). */
static int add_file(struct st *s, const struct shard *sh, char *name, uint8_t *hdr, size_t hdr_len)
{
	struct view *v = s->v;
	struct view_file *f;
	uint64_t size;
	int rc = view_keep_blob(v, hdr); /* the view's, whatever happens */

	if (rc == 0)
		rc = view_grow_files(v);
	if (rc) {
		free(name);
		return rc;
	}
	f = &v->files[v->n_files];
	*f = (struct view_file){ name, VIEW_FILE_SAFETENSORS, 0, hdr, hdr_len };
	v->n_files++; /* from here on view_free frees them */
	if (!f->name)
		return -ENOMEM;
	rc = extents(s, sh, hdr, hdr_len, &v->data[v->n_files - 1], &size);
	f->size = size;
	return rc;
}

static int report(struct st *s, int strict, char *err, size_t errlen)
{
	const struct mapping_pos *pos = &s->v->m->format_pos;
	char more[64] = "";

	if (!s->n_left)
		return 0;
	if (s->n_left > SHOWN_LEFT_OUT)
		snprintf(more, sizeof(more), " and %zu more", s->n_left - SHOWN_LEFT_OUT);
	if (strict)
		return view_errf(err, errlen, -ENOTSUP, pos,
				 "%zu tensor(s) cannot be stored in safetensors: %s%s", s->n_left,
				 s->left, more);
	return view_warn(
		s->v, pos,
		"%zu tensor(s) left out of the .safetensors file, which cannot hold them: %s%s",
		s->n_left, s->left, more);
}

static int collect(struct st *s)
{
	int rc = 0;

	/* in key order: a shard holds a run of names, a layer's together */
	for (size_t i = 0; rc == 0 && i < s->v->n_targets; i++)
		rc = add_target(s, &s->v->targets[i]);
	return rc;
}

/*
 * Cut the items (in key order) into shards of at most max bytes of
 * tensors, as Hugging Face's split_state_dict_into_shards does: a tensor
 * that would overflow the current shard starts the next one; a tensor
 * larger than max is a shard of its own. *out is malloc'd.
 */
static int split(const struct st *s, uint64_t max, struct shard **out, size_t *n)
{
	struct shard *sh = malloc((s->n_items + 1) * sizeof(*sh));
	size_t k = 0;

	if (!sh)
		return -ENOMEM;
	sh[0] = (struct shard){ 0, 0, 0 };
	for (size_t i = 0; i < s->n_items; i++) {
		uint64_t b = s->items[i].bytes;

		if (sh[k].n && (sh[k].bytes + b > max || sh[k].bytes + b < b))
			sh[++k] = (struct shard){ i, 0, 0 };
		sh[k].n++;
		sh[k].bytes += b;
	}
	*out = sh;
	*n = k + 1;
	return 0;
}

/* BASE.safetensors, or BASE-0000K-of-0000N.safetensors of n; malloc'd. */
static char *shard_name(const char *base, size_t k, size_t n)
{
	size_t len = strlen(base) + 48;
	char *s = malloc(len);

	if (s && n == 1)
		snprintf(s, len, "%s.safetensors", base);
	else if (s)
		snprintf(s, len, "%s-%05zu-of-%05zu.safetensors", base, k + 1, n);
	return s;
}

/* BASE.safetensors.index.json: which shard holds which tensor. */
static int add_index(struct st *s, const struct shard *sh, size_t n_sh)
{
	struct safetensors_index ix = { .n_files = n_sh, .n = s->n_items, .has_total_size = 1 };
	size_t len = strlen(s->v->prefix) + sizeof(".safetensors.index.json");
	char *name = malloc(len);
	uint8_t *json = NULL;
	size_t json_len = 0;
	int rc;

	ix.files = calloc(n_sh, sizeof(*ix.files));
	ix.t = calloc(s->n_items + 1, sizeof(*ix.t));
	rc = ix.files && ix.t && name ? 0 : -ENOMEM;
	for (size_t k = 0; rc == 0 && k < n_sh; k++) {
		ix.files[k] = shard_name(s->v->prefix, k, n_sh);
		rc = ix.files[k] ? 0 : -ENOMEM;
		ix.total_size += sh[k].bytes;
		for (size_t i = sh[k].first; i < sh[k].first + sh[k].n; i++)
			ix.t[i] = (struct safetensors_index_entry){ s->items[i].t->key,
								    s->items[i].t->key_len,
								    (uint32_t)k };
	}
	if (rc == 0)
		rc = safetensors_index_serialize(&ix, &json, &json_len);
	for (size_t k = 0; ix.files && k < n_sh; k++)
		free(ix.files[k]);
	free(ix.files);
	free(ix.t);
	if (rc) {
		free(name);
		return rc;
	}
	snprintf(name, len, "%s.safetensors.index.json", s->v->prefix);
	return view_add_meta(s->v, name, json, json_len);
}

/* Each shard's header and file (the items of each sorted as the writer sorts them). */
static int add_shards(struct st *s, const struct shard *sh, size_t n_sh, char *err, size_t errlen)
{
	int rc = 0;

	for (size_t k = 0; rc == 0 && k < n_sh; k++) {
		uint8_t *hdr = NULL;
		size_t hdr_len = 0;

		if (sh[k].n)
			qsort(s->items + sh[k].first, sh[k].n, sizeof(*s->items), cmp_item);
		rc = header(s, sh[k].first, sh[k].n, &hdr, &hdr_len);
		if (rc == 0 && hdr_len - 8 > SAFETENSORS_MAX_HEADER) {
			free(hdr);
			return view_errf(
				err, errlen, -EFBIG, &s->v->m->format_pos,
				"the safetensors header would be %zu bytes, more than readers accept (%d)",
				hdr_len - 8, SAFETENSORS_MAX_HEADER);
		}
		if (rc == 0)
			rc = add_file(s, &sh[k], shard_name(s->v->prefix, k, n_sh), hdr, hdr_len);
	}
	return rc;
}

int st_build(struct view *v, enum mapping_format format, int strict, char *err, size_t errlen)
{
	struct st s = { .v = v };
	struct shard *sh = NULL;
	size_t n_sh = 0;
	int rc;

	if (format == MAPPING_FORMAT_TENSORFLOW)
		return 0;
	s.fds = calloc(v->m->n_sources + 1, sizeof(*s.fds));
	rc = s.fds ? collect(&s) : -ENOMEM;
	if (rc == 0)
		rc = report(&s, strict, err, errlen);
	if (rc == 0)
		rc = split(&s, v->m->max_shard_size, &sh, &n_sh);
	/* the index names the shards' tensors in key order: before they are sorted */
	if (rc == 0 && n_sh > 1)
		rc = add_index(&s, sh, n_sh);
	if (rc == 0)
		rc = add_shards(&s, sh, n_sh, err, errlen);
	if (rc == 0 && format == MAPPING_FORMAT_SAFETENSORS)
		drop_tf_files(v);
	free(sh);
	for (size_t i = 0; s.fds && i < v->m->n_sources; i++)
		free(s.fds[i]);
	free(s.fds);
	free(s.items);
	free(s.runs.run);
	if (rc == -ENOMEM || rc == -EBADMSG || rc == -EIO)
		view_errf(err, errlen, rc, &v->m->format_pos,
			  "cannot build the .safetensors file: %s", strerror(-rc));
	return rc;
}
