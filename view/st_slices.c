/*
 * st_slices.c - a partitioned variable as one safetensors tensor, still
 * without a copy. Its pieces are boxes that tile the full shape; each is
 * stored row-major on its own (checkpoint-format.md §5.2). Let k be the
 * innermost dimension some piece does not span whole: then in the full
 * tensor's row-major order, every index of the dimensions before k,
 * followed by one of the pieces' ranges of dimension k, is a run of bytes
 * contiguous in exactly one piece. The variable is those runs, in order:
 * one per piece when only the first dimension is split (k = 0), one per
 * piece per outer index otherwise (a [V, D] embedding split along D into
 * P pieces: V * P runs of D / P elements).
 */
#define _GNU_SOURCE /* qsort_r */
#include "view/st_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/*
 * Runs shorter than this on average, past a few thousand, are not worth
 * their extent (32 bytes each, for the life of the mount): left out.
 */
#define ST_MIN_AVG_RUN 64
#define ST_FEW_RUNS 4096

struct box {
	const struct view_target *t;
	int64_t *start, *len; /* rank items each, into one allocation */
};

struct tile {
	const struct view *v;
	const struct view_target *t; /* the variable; its pieces are keyed by its name */
	const struct bundle_entry *e;
	struct box *box;
	size_t n_box;
	int64_t esize;
	int k; /* the innermost split dimension */
};

/* Box i from slice i; *why when it is not inside the shape. */
static int make_box(struct tile *tl, size_t i, int64_t *mem, const char **why)
{
	const struct bundle_entry *e = tl->e;
	const struct bundle_slice *sl = &e->slices[i];
	struct box *b = &tl->box[i];
	int64_t vol = tl->esize;
	char *key;
	size_t key_len;
	int rc;

	b->start = mem;
	b->len = mem + e->rank;
	if (sl->rank != e->rank) {
		*why = "pieces of another rank";
		return 0;
	}
	for (int d = 0; d < e->rank; d++) {
		const struct bundle_extent *x = &sl->extents[d];

		b->start[d] = x->length == -1 ? 0 : x->start;
		b->len[d] = x->length == -1 ? e->dims[d] : x->length;
		if (b->start[d] < 0 || b->len[d] < 0 || b->start[d] > e->dims[d] ||
		    b->len[d] > e->dims[d] - b->start[d]) {
			*why = "pieces outside its shape";
			return 0;
		}
		vol = b->len[d] && vol > INT64_MAX / b->len[d] ? -1 : vol * b->len[d];
		if (vol < 0) {
			*why = "too large";
			return 0;
		}
	}
	rc = bundle_slice_key_encode(tl->t->key, tl->t->key_len, sl, &key, &key_len);
	if (rc)
		return rc;
	b->t = view_find_target(tl->v, key, key_len);
	free(key);
	if (!b->t)
		return -EBADMSG; /* plan.c moves every piece with its variable */
	if (view_target_src(tl->v, b->t).size != vol)
		*why = "pieces that overlap or leave holes";
	return 0;
}

static int cmp_start_k(const void *a, const void *b, void *k)
{
	const struct box *x = a, *y = b;
	int d = *(int *)k;

	return (x->start[d] > y->start[d]) - (x->start[d] < y->start[d]);
}

/* The box holding outer index idx[0..k) and beginning at `at` in dim k. */
static const struct box *box_at(const struct tile *tl, const int64_t *idx, int64_t at)
{
	for (size_t i = 0; i < tl->n_box; i++) {
		const struct box *b = &tl->box[i];
		int in = b->start[tl->k] == at && b->len[tl->k] > 0;

		for (int d = 0; in && d < tl->k; d++)
			in = idx[d] >= b->start[d] && idx[d] - b->start[d] < b->len[d];
		if (in)
			return b;
	}
	return NULL;
}

/* Byte offset of outer index idx[0..k) inside box b (row-major in b). */
static uint64_t offset_in(const struct tile *tl, const struct box *b, const int64_t *idx)
{
	uint64_t off = 0, stride = (uint64_t)tl->esize;

	for (int d = tl->e->rank - 1; d >= 0; d--) {
		if (d < tl->k)
			off += (uint64_t)(idx[d] - b->start[d]) * stride;
		stride *= (uint64_t)b->len[d];
	}
	return off;
}

static int push_run(struct st_runs *r, const struct view_target *t, uint64_t off, uint64_t len)
{
	struct st_run *p = util_grow(r->run, &r->cap, r->n + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	r->run = p;
	p[r->n++] = (struct st_run){ t, off, len };
	return 0;
}

/* Odometer over dims [0, k): 0 when it wraps. */
static int next_index(const struct tile *tl, int64_t *idx)
{
	for (int d = tl->k - 1; d >= 0; d--) {
		if (++idx[d] < tl->e->dims[d])
			return 1;
		idx[d] = 0;
	}
	return 0;
}

/* How many runs: prod(dims[0..k)) * pieces along k; -1 past the cap. */
static int64_t count_runs(const struct tile *tl, int64_t bytes, size_t ranges)
{
	int64_t n = (int64_t)ranges;

	for (int d = 0; d < tl->k; d++) {
		if (tl->e->dims[d] == 0)
			return 0;
		if (n > INT64_MAX / tl->e->dims[d])
			return -1;
		n *= tl->e->dims[d];
	}
	return n > ST_FEW_RUNS && n > bytes / ST_MIN_AVG_RUN ? -1 : n;
}

static int emit(struct tile *tl, struct st_runs *r, int64_t bytes, const char **why)
{
	int64_t idx[BUNDLE_MAX_RANK] = { 0 }, inner = tl->esize, n;
	size_t ranges = 0, first = r->n;

	for (int d = tl->k + 1; d < tl->e->rank; d++)
		inner *= tl->e->dims[d];
	/* the boxes in dim-k order; distinct starts are the ranges */
	qsort_r(tl->box, tl->n_box, sizeof(*tl->box), cmp_start_k, &tl->k);
	for (size_t i = 0; i < tl->n_box; i++)
		ranges += !i || tl->box[i].start[tl->k] != tl->box[i - 1].start[tl->k];
	n = count_runs(tl, bytes, ranges);
	if (n < 0) {
		*why = "pieces too small to serve one by one";
		return 0;
	}
	do {
		for (int64_t at = 0; n && at < tl->e->dims[tl->k];) {
			const struct box *b = box_at(tl, idx, at);
			int rc;

			if (!b) {
				r->n = first;
				*why = "pieces that overlap or leave holes";
				return 0;
			}
			rc = push_run(r, b->t, offset_in(tl, b, idx),
				      (uint64_t)(b->len[tl->k] * inner));
			if (rc)
				return rc;
			at += b->len[tl->k];
		}
	} while (n && next_index(tl, idx));
	return 0;
}

/* The innermost dimension some box does not span whole (0 if none). */
static int split_dim(const struct tile *tl)
{
	for (int d = tl->e->rank - 1; d > 0; d--)
		for (size_t i = 0; i < tl->n_box; i++)
			if (tl->box[i].len[d] != tl->e->dims[d])
				return d;
	return 0;
}

int st_tile(const struct view *v, const struct view_target *t, int64_t bytes, struct st_runs *r,
	    const char **why)
{
	const struct bundle_entry ent = view_target_src(v, t), *e = &ent;
	struct tile tl = { v, t, e, NULL, e->n_slices, bundle_dtype_size(e->dtype), 0 };
	int64_t *mem = NULL;
	uint64_t vol = 0; /* <= 2 * bytes: each piece lies inside the shape */
	int rc = 0;

	if (e->rank == 0) {
		*why = "a partitioned scalar";
		return 0;
	}
	tl.box = calloc(tl.n_box, sizeof(*tl.box));
	mem = calloc(tl.n_box * 2 * (size_t)e->rank, sizeof(*mem));
	if (!tl.box || !mem)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && !*why && i < tl.n_box; i++) {
		rc = make_box(&tl, i, mem + i * 2 * (size_t)e->rank, why);
		if (rc == 0 && !*why)
			vol += (uint64_t)view_target_src(v, tl.box[i].t).size;
		if (rc == 0 && !*why && vol > (uint64_t)bytes)
			*why = "pieces that overlap or leave holes";
	}
	if (rc == 0 && !*why && vol != (uint64_t)bytes)
		*why = "pieces that do not cover it";
	tl.k = rc || *why ? 0 : split_dim(&tl);
	if (rc == 0 && !*why)
		rc = emit(&tl, r, bytes, why);
	free(tl.box);
	free(mem);
	return rc;
}
