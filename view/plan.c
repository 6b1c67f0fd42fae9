/*
 * plan.c - resolve a mapping against its sources: which source tensors
 * appear in the merged checkpoint under which names (mapping.md,
 * "Resolution order"). The meaning mirrors TensorFlow's
 * init_from_checkpoint assignment maps: a scope rule renames a prefix, the
 * root rule takes everything, a tensor rule takes one name; excludes hide
 * tensors from every map line of their source.
 */
#define _GNU_SOURCE /* qsort_r */
#include "view/view_impl.h"

#include "store/store.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "view/suggest.h"
#include "util/util.h"

/* TF2's object graph: carried only by an exact rule (mapping.md). */
static const char object_graph[] = "_CHECKPOINTABLE_OBJECT_GRAPH";

struct plan {
	struct view *v;
	uint32_t **hidden; /* per source, per entry: 1 + exclude line index */
	char *err;
	size_t errlen;
};

static int open_sources(struct plan *p)
{
	const struct mapping *m = p->v->m;
	char msg[BUNDLE_ERR_MAX];

	for (size_t i = 0; i < m->n_sources; i++) {
		const struct mapping_source *s = &m->sources[i];
		int rc = mapping_is_url(s->resolved_path) && !p->v->store
				 ? store_new(p->v->remote, &p->v->store, msg, sizeof(msg))
				 : 0;

		if (rc == 0)
			rc = view_open_source(s->resolved_path, p->v->open_flags, p->v->store,
					      &p->v->readers[i], msg, sizeof(msg));

		if (rc)
			return view_errf(p->err, p->errlen, rc, &s->path_pos, "source '%s': %s",
					 s->name, msg);
		p->hidden[i] = calloc(bundle_num_entries(p->v->readers[i]) + 1, sizeof(uint32_t));
		if (!p->hidden[i])
			return view_errf(p->err, p->errlen, -ENOMEM, &s->pos, "out of memory");
	}
	return 0;
}

static size_t exclude_source(struct plan *p, size_t s, size_t x)
{
	const struct bundle_reader *r = p->v->readers[s];
	const char *glob = p->v->m->excludes[x].glob;
	size_t hits = 0;

	for (size_t i = 0; i < bundle_num_entries(r); i++) {
		const struct bundle_entry ent = bundle_entry_at(r, i), *e = &ent;

		if (bundle_entry_is_piece(e) || fnmatch(glob, e->key, 0) != 0)
			continue;
		if (!p->hidden[s][i])
			p->hidden[s][i] = (uint32_t)x + 1;
		hits++;
	}
	return hits;
}

static void apply_excludes(struct plan *p)
{
	const struct mapping *m = p->v->m;

	for (size_t x = 0; x < m->n_excludes; x++) {
		const struct mapping_exclude *ex = &m->excludes[x];
		char glob[VIEW_SHOWN_MAX];
		size_t hits = 0;

		for (size_t s = 0; s < m->n_sources; s++)
			if (ex->source < 0 || (size_t)ex->source == s)
				hits += exclude_source(p, s, x) +
					(objmerge_is_object_source(p->v, s)
						 ? objmerge_exclude(p->v, x, s)
						 : 0);
		/* a pattern as written in the mapping: only controls escaped */
		if (!hits)
			view_warn(p->v, &ex->pos, "exclude '%s:%s' matches no tensor",
				  ex->source < 0 ? "*" : m->sources[ex->source].name,
				  util_escape(glob, sizeof(glob), ex->glob, strlen(ex->glob), 0));
	}
}

static struct view_target *push_target(struct view *v)
{
	void *t = v->n_targets < UINT32_MAX ? util_grow(v->targets, &v->cap_targets,
							v->n_targets + 1, sizeof(*v->targets))
					    : NULL;

	if (!t)
		return NULL;
	v->targets = t;
	return &v->targets[v->n_targets++];
}

/*
 * Add one target, keyed by the la bytes of a then the lb bytes of b
 * (copied into v->keys); or, if borrow, b alone: the tail of a source
 * key, NUL-terminated and held by its reader as long as the target (a
 * scope rule to the root keeps the names as they are: no copy).
 */
static int add_target(struct plan *p, size_t map, size_t entry, const char *a, size_t la,
		      const char *b, size_t lb, int borrow)
{
	const struct bundle_reader *r = p->v->readers[p->v->m->maps[map].source];
	const struct bundle_entry e = bundle_entry_at(r, entry);
	/* never written through: view_target.key is not const for safetensors_tensor */
	char *key = borrow ? (char *)b : view_keys_add(&p->v->keys, a, la, b, lb);
	struct view_target *t = key ? push_target(p->v) : NULL;

	if (!t)
		return view_errf(p->err, p->errlen, -ENOMEM, &p->v->m->maps[map].pos,
				 "out of memory");
	*t = (struct view_target){
		.key = key,
		.key_len = (uint32_t)(la + lb),
		.offset = e.offset,
		.map = (uint32_t)map,
		.shard = e.shard_id,
		.entry = (uint32_t)entry,
	};
	return 0;
}

/* A tensor moves with its pieces, re-keyed under the new name (§5.2). */
static int add_with_pieces(struct plan *p, size_t map, size_t entry, const char *a, size_t la,
			   const char *b, size_t lb, int borrow)
{
	const struct bundle_reader *r = p->v->readers[p->v->m->maps[map].source];
	const struct bundle_entry ent = bundle_entry_at(r, entry), *e = &ent;
	int rc = add_target(p, map, entry, a, la, b, lb, borrow);
	const struct view_target *t = rc == 0 ? &p->v->targets[p->v->n_targets - 1] : NULL;
	const char *key = t ? t->key : NULL; /* in the arena: never moves */
	size_t len = la + lb;

	for (size_t i = 0; rc == 0 && i < e->n_slices; i++) {
		char *old, *nk = NULL;
		size_t ol, nl;

		if (bundle_slice_key_encode(e->key, e->key_len, &e->slices[i], &old, &ol))
			return view_errf(p->err, p->errlen, -ENOMEM, &p->v->m->maps[map].pos,
					 "out of memory");
		rc = bundle_slice_key_encode(key, len, &e->slices[i], &nk, &nl);
		/* the reader checked at open that every piece exists */
		if (rc == 0)
			rc = add_target(p, map, bundle_find(r, old, ol), nk, nl, "", 0, 0);
		else
			rc = view_errf(p->err, p->errlen, -ENOMEM, &p->v->m->maps[map].pos,
				       "out of memory");
		free(old);
		free(nk);
	}
	return rc;
}

/* The target of the rewritten object graph (v->graph_entry, in v->graph_fd). */
static int add_graph(struct plan *p, size_t map)
{
	struct view *v = p->v;
	const struct bundle_entry *e = &v->graph_entry;
	char *key = view_keys_add(&v->keys, e->key, e->key_len, "", 0);
	struct view_target *t = key ? push_target(v) : NULL;

	if (!t)
		return view_errf(p->err, p->errlen, -ENOMEM, &v->m->maps[map].pos, "out of memory");
	*t = (struct view_target){ .key = key,
				   .key_len = (uint32_t)e->key_len,
				   .offset = e->offset,
				   .map = (uint32_t)map,
				   .synth = 1,
				   .shard = e->shard_id };
	return 0;
}

/* Give target t (and its pieces, right after it) the key `key` (len bytes, copied). */
static int rename_target(struct plan *p, size_t t, const char *key, size_t len)
{
	struct view *v = p->v;
	const struct bundle_entry ent = view_target_src(v, &v->targets[t]), *e = &ent;

	for (size_t i = 0; i <= e->n_slices; i++) {
		struct view_target *x = &v->targets[t + i];
		char *piece = NULL, *nk = NULL;
		size_t nl = len;

		if (!i || !bundle_slice_key_encode(key, len, &e->slices[i - 1], &piece, &nl))
			nk = view_keys_add(&v->keys, i ? piece : key, nl, "", 0);
		free(piece);
		if (!nk)
			return view_errf(p->err, p->errlen, -ENOMEM, &v->m->maps[x->map].pos,
					 "out of memory");
		x->key = nk;
		x->key_len = (uint32_t)nl;
	}
	return 0;
}

static int not_found(struct plan *p, const struct mapping_map *mp, const char *what)
{
	const char *src = p->v->m->sources[mp->source].name;
	char alt[1024], from[VIEW_SHOWN_MAX];

	view_shown(from, mp->from, mp->from_len);
	if (suggest_names(p->v->readers[mp->source], mp->from, mp->from_len, alt, sizeof(alt)))
		return view_errf(p->err, p->errlen, -ENOENT, &mp->from_pos,
				 "source '%s' has no %s '%s' (did you mean %s?)", src, what, from,
				 alt);
	return view_errf(p->err, p->errlen, -ENOENT, &mp->from_pos, "source '%s' has no %s '%s'",
			 src, what, from);
}

static int map_tensor(struct plan *p, size_t map)
{
	const struct mapping_map *mp = &p->v->m->maps[map];
	const struct bundle_reader *r = p->v->readers[mp->source];
	size_t at = bundle_find(r, mp->from, mp->from_len);
	char from[VIEW_SHOWN_MAX];
	struct bundle_entry e;
	uint32_t hid;

	if (at != BUNDLE_NOT_FOUND)
		e = bundle_entry_at(r, at);
	if (at == BUNDLE_NOT_FOUND || bundle_entry_is_piece(&e))
		return not_found(p, mp, "tensor");
	hid = p->hidden[mp->source][at];
	if (hid)
		return view_errf(p->err, p->errlen, -ENOENT, &mp->from_pos,
				 "tensor '%s' of source '%s' is hidden by the exclude at line %d",
				 view_shown(from, mp->from, mp->from_len),
				 p->v->m->sources[mp->source].name,
				 p->v->m->excludes[hid - 1].pos.line);
	return add_with_pieces(p, map, at, mp->to, mp->to_len, "", 0, 0);
}

/* First entry whose key is >= prefix (keys are sorted bytewise). */
static size_t lower_bound(const struct bundle_reader *r, const char *key, size_t len)
{
	size_t lo = 0, hi = bundle_num_entries(r);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bundle_entry e = bundle_entry_at(r, mid);

		if (bundle_key_cmp(e.key, e.key_len, key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int map_scope(struct plan *p, size_t map)
{
	const struct mapping_map *mp = &p->v->m->maps[map];
	const struct bundle_reader *r = p->v->readers[mp->source];
	size_t flen = mp->kind == MAPPING_MAP_ROOT ? 0 : mp->from_len;
	size_t hits = 0, hidden = 0;
	char name[VIEW_SHOWN_MAX];

	for (size_t i = lower_bound(r, mp->from, flen); i < bundle_num_entries(r); i++) {
		const struct bundle_entry ent = bundle_entry_at(r, i), *e = &ent;
		int rc;

		if (e->key_len < flen || memcmp(e->key, mp->from, flen))
			break;
		if (bundle_entry_is_piece(e) ||
		    (!strcmp(e->key, object_graph) && !p->v->keep_graph))
			continue;
		if (p->hidden[mp->source][i]) {
			hidden++;
			continue;
		}
		if (mp->to_len + e->key_len - flen == 0)
			return view_errf(p->err, p->errlen, -EINVAL, &mp->from_pos,
					 "tensor '%s' of source '%s' would get an empty name",
					 view_shown(name, e->key, e->key_len),
					 p->v->m->sources[mp->source].name);
		rc = add_with_pieces(p, map, i, mp->to, mp->to_len, e->key + flen,
				     e->key_len - flen, mp->to_len == 0);
		if (rc)
			return rc;
		hits++;
	}
	if (hits)
		return 0;
	if (hidden)
		return view_errf(p->err, p->errlen, -ENOENT, &mp->from_pos,
				 "every tensor under '%s' of source '%s' is excluded",
				 mp->kind == MAPPING_MAP_ROOT
					 ? "/"
					 : view_shown(name, mp->from, mp->from_len),
				 p->v->m->sources[mp->source].name);
	if (mp->kind == MAPPING_MAP_ROOT)
		return view_errf(p->err, p->errlen, -ENOENT, &mp->from_pos,
				 "source '%s' has no tensors", p->v->m->sources[mp->source].name);
	return not_found(p, mp, "scope");
}

/*
 * Two map lines naming the same target: report both lines. to[] holds
 * the target numbers (the order they were added in) sorted by (key,
 * number), so equal keys are neighbours in the order they were added; the
 * report is the one of adding them in turn to a set: the earliest-added
 * target whose key was added before, and the first target that added it.
 */
static int check_conflicts(struct plan *p, const uint32_t *to)
{
	const struct view *v = p->v;
	const struct view_target *t = v->targets;
	size_t x = 0, first = 0; /* positions in to[]; x 0: none */
	char name[VIEW_SHOWN_MAX];

	for (size_t i = 1; i < v->n_targets; i++) {
		const struct view_target *a = &t[to[i - 1]], *b = &t[to[i]];

		if (a->key_len != b->key_len || memcmp(a->key, b->key, a->key_len))
			continue;
		if (i == 1 || t[to[first]].key_len != a->key_len ||
		    memcmp(t[to[first]].key, a->key, a->key_len))
			first = i - 1; /* a group's first precedes its second */
		if (first == i - 1 && (!x || to[i] < to[x]))
			x = i;
	}
	if (!x)
		return 0;
	/* to[x] is its group's second, to[x - 1] the first */
	return view_errf(p->err, p->errlen, -EEXIST, &v->m->maps[t[to[x]].map].pos,
			 "target '%s' is produced twice: by this line and by line %d",
			 view_shown(name, t[to[x]].key, t[to[x]].key_len),
			 v->m->maps[t[to[x - 1]].map].pos.line);
}

/*
 * TF2's restore parses the entry called _CHECKPOINTABLE_OBJECT_GRAPH as
 * the serialized object graph, a string scalar; any other tensor under
 * that name breaks the restore of the whole merge. Reported at the TO of
 * the map line that produced it.
 */
static int check_object_graph(struct plan *p)
{
	const struct view *v = p->v;

	for (size_t i = 0; i < v->n_targets; i++) {
		const struct view_target *t = &v->targets[i];
		struct bundle_entry e;
		const char *dt;
		char name[VIEW_SHOWN_MAX];

		if (t->key_len != sizeof(object_graph) - 1 ||
		    memcmp(t->key, object_graph, t->key_len))
			continue;
		e = view_target_src(v, t);
		if (e.dtype == BUNDLE_DT_STRING && e.rank == 0 && !e.n_slices)
			continue;
		dt = bundle_dtype_name(e.dtype);
		return view_errf(
			p->err, p->errlen, -EINVAL, &v->m->maps[t->map].to_pos,
			"target '%s' must be TF2's object graph, a string scalar, but tensor '%s' of source '%s' is %s of rank %d (TensorFlow could not restore the merge)",
			object_graph, view_shown(name, e.key, e.key_len),
			v->m->sources[view_target_source(v, t)].name, dt ? dt : "an unknown dtype",
			e.rank);
	}
	return 0;
}

/*
 * Of two target numbers (the order they were added in): key order, and
 * for one key (a conflict) the order they were added in.
 */
static int cmp_target(const void *a, const void *b, void *targets)
{
	const uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const struct view_target *x = (const struct view_target *)targets + i;
	const struct view_target *y = (const struct view_target *)targets + j;
	int c = bundle_key_cmp(x->key, x->key_len, y->key, y->key_len);

	return c ? c : (i > j) - (i < j);
}

/*
 * Sort the targets by sorting their numbers and moving each target once
 * along the permutation's cycles: qsort of the targets themselves would
 * take a second array of them (glibc sorts by merging), 40 bytes per
 * tensor at the build's highest point; this takes 4.
 */
static int sort_targets(struct plan *p)
{
	struct view *v = p->v;
	uint32_t *to = malloc((v->n_targets + 1) * sizeof(*to));
	int rc;

	if (!to) {
		struct mapping_pos none = { v->m->file, 0, 0 };

		return view_errf(p->err, p->errlen, -ENOMEM, &none, "out of memory");
	}
	for (size_t i = 0; i < v->n_targets; i++)
		to[i] = (uint32_t)i;
	qsort_r(to, v->n_targets, sizeof(*to), cmp_target, v->targets);
	rc = check_conflicts(p, to);
	/* place i gets the target numbered to[i]; a placed one has to[j] == j */
	for (size_t i = 0; rc == 0 && i < v->n_targets; i++) {
		struct view_target tmp = v->targets[i];
		size_t j = i;

		while (to[j] != i) {
			size_t k = to[j];

			v->targets[j] = v->targets[k];
			to[j] = (uint32_t)j;
			j = k;
		}
		v->targets[j] = tmp;
		to[j] = (uint32_t)j;
	}
	free(to);
	return rc;
}

/* What the object merge made (objmerge_finish), added in its order. */
static int add_object_targets(struct plan *p)
{
	struct objmerge_targets ts = { 0 };
	int rc = objmerge_finish(p->v, &ts, p->err, p->errlen);

	for (size_t i = 0; rc == 0 && i < ts.n; i++) {
		const struct objmerge_target *t = &ts.t[i];

		if (t->rename)
			rc = rename_target(p, t->at, t->key, strlen(t->key));
		else
			rc = add_with_pieces(p, t->map, t->at, t->key, strlen(t->key), "", 0, 0);
	}
	if (rc == 0 && ts.graph)
		rc = add_graph(p, ts.graph_map);
	objmerge_targets_release(&ts);
	return rc;
}

static int resolve_maps(struct plan *p)
{
	const struct mapping *m = p->v->m;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < m->n_maps; i++)
		if (objmerge_is_object_line(p->v, i))
			rc = objmerge_map(p->v, i, p->err, p->errlen);
		else if (objmerge_is_object_source(p->v, m->maps[i].source))
			rc = objmerge_refuse_key_line(p->v, i, p->err, p->errlen);
		else
			rc = m->maps[i].kind == MAPPING_MAP_TENSOR ? map_tensor(p, i)
								   : map_scope(p, i);
	if (rc == 0 && p->v->om)
		rc = add_object_targets(p);
	if (rc)
		return rc;
	if (p->v->n_targets && p->v->n_targets < p->v->cap_targets) {
		/* the count is final: give back what doubling reserved */
		struct view_target *t = realloc(p->v->targets, p->v->n_targets * sizeof(*t));

		if (t) {
			p->v->targets = t;
			p->v->cap_targets = p->v->n_targets;
		}
	}
	rc = sort_targets(p);
	if (rc == 0)
		rc = check_object_graph(p);
	if (rc)
		return rc;
	for (size_t i = 0; i < p->v->n_targets; i++) {
		const struct view_target *t = &p->v->targets[i];
		const struct bundle_entry e = view_target_src(p->v, t);

		if (!bundle_entry_is_piece(&e) && !t->synth)
			p->v->source_tensors[view_target_source(p->v, t)]++;
		if (!e.n_slices)
			p->v->tensor_bytes += (uint64_t)e.size;
	}
	return 0;
}

int plan_resolve(struct view *v, char *err, size_t errlen)
{
	struct plan p = { v, calloc(v->m->n_sources + 1, sizeof(uint32_t *)), err, errlen };
	int rc = p.hidden ? open_sources(&p) : -ENOMEM;

	if (rc == 0)
		rc = objmerge_open(v, err, errlen);
	if (rc == 0) {
		apply_excludes(&p);
		rc = resolve_maps(&p);
	}
	for (size_t i = 0; p.hidden && i < v->m->n_sources; i++)
		free(p.hidden[i]);
	free(p.hidden);
	return rc;
}
