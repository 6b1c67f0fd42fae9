/*
 * objmerge.c - TF2 sources merged by object (mapping.md, "Object paths"):
 * for a source whose index holds _CHECKPOINTABLE_OBJECT_GRAPH, map and
 * exclude lines name objects by their paths, and the merged checkpoint
 * carries one rewritten object graph, because tf.train.Checkpoint restores
 * by walking that graph from its root, not by key.
 *
 * The merged graph is made in three steps: map lines include source
 * nodes (each at most once, however many lines or paths reach it) and
 * hang them at their target paths under a fresh root (here; the paths and
 * excludes of a source's graph are objpath.c's); objmerge_finish
 * (objemit.c) numbers the nodes breadth-first, as TensorFlow's saver does,
 * rewrites children, slot variables and has_checkpoint_values, and
 * regenerates every checkpoint key from the new paths (objgraph_key); then
 * each attribute becomes a target pointing at its source tensor's bytes,
 * and the serialized graph becomes the one tensor whose bytes are
 * synthesized (a sealed memfd, so every reader of a data file sees an fd,
 * as for the source shards).
 *
 * This file opens the sources (which are read by object paths) and builds
 * the merged tree. Two mappings keep the graph as the source has it: one
 * with an exact rule for _CHECKPOINTABLE_OBJECT_GRAPH (version 1 mappings,
 * read by key throughout), and the identity mount of one TF2 source
 * (`map a:/ -> /` alone, no exclude on it), whose graph is carried
 * byte-identical.
 */
#include "view/objmerge_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int om_oom(const struct view *v, char *err, size_t errlen)
{
	struct mapping_pos none = { v->m->file, 0, 0 };

	return view_errf(err, errlen, -ENOMEM, &none, "out of memory");
}

static int is_graph_key(const char *s, size_t len)
{
	return len == strlen(OBJGRAPH_TENSOR_KEY) && !memcmp(s, OBJGRAPH_TENSOR_KEY, len);
}

/*
 * A TF2 source: its graph tensor is a string scalar. Anything else under
 * that name is an ordinary tensor (plan.c refuses it as a target).
 */
static int has_graph(const struct view *v, size_t s)
{
	struct bundle_entry found;
	const struct bundle_entry *e = bundle_lookup(v->readers[s], OBJGRAPH_TENSOR_KEY,
						     strlen(OBJGRAPH_TENSOR_KEY), &found);

	return e && e->dtype == BUNDLE_DT_STRING && e->rank == 0 && !e->n_slices;
}

/* A version 1 mapping carries the graph by an exact rule: all by key. */
static int legacy(const struct mapping *m)
{
	for (size_t i = 0; i < m->n_maps; i++)
		if (m->maps[i].kind == MAPPING_MAP_TENSOR &&
		    (is_graph_key(m->maps[i].from, m->maps[i].from_len) ||
		     is_graph_key(m->maps[i].to, m->maps[i].to_len)))
			return 1;
	return 0;
}

static int identity(const struct view *v)
{
	const struct mapping *m = v->m;

	if (m->n_maps != 1 || m->maps[0].kind != MAPPING_MAP_ROOT || m->maps[0].to_len)
		return 0;
	for (size_t x = 0; x < m->n_excludes; x++)
		if (m->excludes[x].source < 0 || (size_t)m->excludes[x].source == m->maps[0].source)
			return 0;
	return 1;
}

static int open_graph(struct view *v, size_t s, char *err, size_t errlen)
{
	struct osrc *o = &v->om->src[s];
	const struct mapping_source *ms = &v->m->sources[s];
	char msg[BUNDLE_ERR_MAX];
	int rc = objgraph_read(v->readers[s], &o->g, msg, sizeof(msg));

	if (rc == 0) {
		rc = objgraph_walk_init(&o->w, o->g, msg, sizeof(msg));
		if (rc) {
			objgraph_free(o->g);
			o->g = NULL;
		}
	}
	if (rc)
		return view_errf(err, errlen, rc, &ms->path_pos, "source '%s': %s", ms->name, msg);
	o->merged = malloc((o->g->n_nodes + 1) * sizeof(int32_t));
	if (!o->merged)
		return om_oom(v, err, errlen);
	for (size_t i = 0; i < o->g->n_nodes; i++)
		o->merged[i] = -1;
	return 0;
}

/* The exact rule that makes a mapping legacy() conflicts with `checkpoint = object-based`. */
static int legacy_conflict(const struct view *v, char *err, size_t errlen)
{
	const struct mapping *m = v->m;
	size_t i = 0;

	while (!is_graph_key(m->maps[i].from, m->maps[i].from_len) &&
	       !is_graph_key(m->maps[i].to, m->maps[i].to_len))
		i++;
	return view_errf(
		err, errlen, -EINVAL, &m->checkpoint_pos,
		"'checkpoint = object-based' cannot be kept: line %d carries a source's %s by key (remove one of the two)",
		m->maps[i].pos.line, OBJGRAPH_TENSOR_KEY);
}

int objmerge_open(struct view *v, char *err, size_t errlen)
{
	const struct mapping *m = v->m;
	int any = m->checkpoint == MAPPING_CHECKPOINT_OBJECT_BASED, rc = 0;

	if (m->checkpoint == MAPPING_CHECKPOINT_NAME_BASED)
		return 0;
	if (legacy(m))
		return any ? legacy_conflict(v, err, errlen) : 0;
	if (identity(v) && has_graph(v, m->maps[0].source)) {
		v->keep_graph = 1;
		return 0;
	}
	for (size_t i = 0; i < m->n_maps; i++)
		any |= has_graph(v, m->maps[i].source);
	if (!any)
		return 0;
	v->om = calloc(1, sizeof(*v->om));
	if (v->om)
		v->om->src = calloc(m->n_sources + 1, sizeof(*v->om->src));
	if (!v->om || !v->om->src)
		return om_oom(v, err, errlen);
	for (size_t s = 0; rc == 0 && s < m->n_sources; s++)
		if (has_graph(v, s))
			rc = open_graph(v, s, err, errlen);
	return rc;
}

int objmerge_is_object_source(const struct view *v, size_t s) { return v->om && v->om->src[s].g; }

/* Whether any key of r starts with prefix (len bytes). */
static int has_key_prefix(const struct bundle_reader *r, const char *prefix, size_t len)
{
	for (size_t i = 0; i < bundle_num_entries(r); i++) {
		const struct bundle_entry e = bundle_entry_at(r, i);

		if (e.key_len >= len && !memcmp(e.key, prefix, len) && !bundle_entry_is_piece(&e))
			return 1;
	}
	return 0;
}

int objmerge_is_object_line(const struct view *v, size_t map)
{
	const struct mapping_map *mp = &v->m->maps[map];
	const struct osrc *o;
	size_t flen;

	if (!objmerge_is_object_source(v, mp->source))
		return 0;
	if (mp->kind == MAPPING_MAP_ROOT)
		return 1;
	o = &v->om->src[mp->source];
	flen = mp->from_len - (mp->kind == MAPPING_MAP_SCOPE);
	if (om_resolve_path(o->g, mp->from, flen) >= 0)
		return 1;
	/* not an object: a tensor name or a scope of names, read by name */
	if (mp->kind == MAPPING_MAP_TENSOR)
		return bundle_find(v->readers[mp->source], mp->from, mp->from_len) ==
		       BUNDLE_NOT_FOUND;
	return !has_key_prefix(v->readers[mp->source], mp->from, mp->from_len);
}

/* Where a TF2 key's object path ends: its first "/." component (.ATTRIBUTES,
 * .OPTIMIZER_SLOT); len when there is none. */
static size_t object_part(const char *key, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (key[i] == '/' && key[i + 1] == '.' && (i + 2 >= len || key[i + 2] != '.'))
			return i;
	return len;
}

int objmerge_refuse_key_line(const struct view *v, size_t map, char *err, size_t errlen)
{
	const struct mapping_map *mp = &v->m->maps[map];
	const char *src = v->m->sources[mp->source].name;
	size_t fo = object_part(mp->from, mp->from_len), to = object_part(mp->to, mp->to_len);
	char shown[VIEW_SHOWN_MAX], obj[VIEW_SHOWN_MAX], target[VIEW_SHOWN_MAX];

	if (fo == mp->from_len || fo == 0 || to == 0)
		return view_errf(
			err, errlen, -EINVAL, &mp->from_pos,
			"'%s' is no object of '%s', a TF2 checkpoint merged by object: name an object ('ckptfs ls --objects' lists them), or merge by key with 'checkpoint = name-based'",
			view_shown(shown, mp->from, mp->from_len), src);
	return view_errf(
		err, errlen, -EINVAL, &mp->from_pos,
		"'%s' is a tensor key of '%s', a TF2 checkpoint merged by object: name its object ('map %s:%s -> %s'), or merge by key with 'checkpoint = name-based'",
		view_shown(shown, mp->from, mp->from_len), src, src, view_shown(obj, mp->from, fo),
		view_shown(target, mp->to, to));
}

void objmerge_free(struct objmerge *om, size_t n_sources)
{
	if (!om)
		return;
	for (size_t s = 0; om->src && s < n_sources; s++) {
		if (om->src[s].g)
			objgraph_walk_release(&om->src[s].w);
		objgraph_free(om->src[s].g);
		free(om->src[s].merged);
	}
	for (size_t i = 0; i < om->n_nodes; i++) {
		free(om->nodes[i].extra);
	}
	for (size_t e = 0; e < om->n_edges; e++)
		free(om->edges[e].key);
	free(om->edges);
	nametable_release(&om->edge_index);
	free(om->nodes);
	free(om->src);
	free(om);
}

/* ------------------------------------------------------ merged nodes */

static int32_t new_node(struct objmerge *om, int32_t src, int32_t id, uint32_t map)
{
	void *p = util_grow(om->nodes, &om->cap_nodes, om->n_nodes + 1, sizeof(*om->nodes));

	if (!p)
		return -1;
	om->nodes = p;
	om->nodes[om->n_nodes] = (struct mnode){ src, id, 0, map, -1, NULL, 0, 0 };
	return (int32_t)om->n_nodes++;
}

/* The merged node of source node id of s, made if new; -1 on ENOMEM. */
static int32_t include(struct objmerge *om, size_t s, int32_t id, uint32_t map)
{
	int32_t *slot = &om->src[s].merged[id];

	if (*slot < 0)
		*slot = new_node(om, (int32_t)s, id, map);
	return *slot;
}

/* The edge index's key for child name of node from; caller frees. */
static char *edge_key(int32_t from, const char *name, size_t *len)
{
	size_t n = strlen(name);
	char *key = malloc(sizeof(from) + n + 1);

	if (key) {
		memcpy(key, &from, sizeof(from));
		memcpy(key + sizeof(from), name, n + 1);
		*len = sizeof(from) + n;
	}
	return key;
}

const struct medge *om_added_edge(const struct objmerge *om, int32_t from, const char *name)
{
	size_t len = 0;
	char *key = edge_key(from, name, &len);
	uint32_t e = 0;
	int found = key && nametable_find(&om->edge_index, key, len, &e);

	free(key);
	return found ? &om->edges[e] : NULL;
}

/* Add the edge from -name-> to; name is owned and freed here. */
static int add_edge(struct objmerge *om, int32_t from, char *name, int32_t to, uint32_t map)
{
	struct mnode *n = &om->nodes[from];
	size_t len = 0;
	char *key = edge_key(from, name, &len);
	void *pe = key ? util_grow(om->edges, &om->cap_edges, om->n_edges + 1, sizeof(*om->edges))
		       : NULL;
	void *px =
		pe ? util_grow(n->extra, &n->cap_extra, n->n_extra + 1, sizeof(*n->extra)) : NULL;
	uint32_t old;

	free(name);
	if (pe)
		om->edges = pe;
	if (!px || nametable_insert(&om->edge_index, key, len, (uint32_t)om->n_edges, &old) < 0) {
		if (px)
			n->extra = px;
		free(key);
		return -ENOMEM;
	}
	n->extra = px;
	n->extra[n->n_extra++] = (uint32_t)om->n_edges;
	om->edges[om->n_edges++] = (struct medge){ key, len, to, map };
	return 0;
}

/* The child of merged node named name: through an added edge or a source one. */
static int32_t merged_child(const struct objmerge *om, int32_t node, const char *name,
			    uint32_t *map)
{
	const struct mnode *n = &om->nodes[node];
	const struct medge *added = om_added_edge(om, node, name);

	if (added) {
		*map = added->map;
		return added->to;
	}
	if (n->src >= 0 && n->whole) {
		const struct osrc *o = &om->src[n->src];
		const struct objgraph_node *g = &o->g->nodes[n->id];

		for (size_t c = 0; c < g->n_children; c++)
			if (!strcmp(g->children[c].local_name, name) &&
			    o->merged[g->children[c].node_id] >= 0) {
				*map = n->map;
				return o->merged[g->children[c].node_id];
			}
	}
	return -1;
}

/*
 * Hang merged node `node` at target path to (to_len bytes, escaped
 * components, no trailing '/'), making the objects on the way.
 */
static int attach(struct view *v, size_t map, const char *to, size_t to_len, int32_t node,
		  char *err, size_t errlen)
{
	struct objmerge *om = v->om;
	const struct mapping_map *mp = &v->m->maps[map];
	int32_t at = 0;
	size_t i = 0;
	char shown[VIEW_SHOWN_MAX];

	if (to_len == 0) {
		/* objects other lines hung at the root stay its children */
		if (om->root_taken)
			return view_errf(err, errlen, -EEXIST, &mp->to_pos,
					 "the merged root object is already made by line %d",
					 v->m->maps[om->root_map].pos.line);
		om->root_taken = 1;
		om->root_map = (uint32_t)map;
		return 1; /* the caller makes node the root */
	}
	for (;;) {
		const char *slash = memchr(to + i, '/', to_len - i);
		size_t end = slash ? (size_t)(slash - to) : to_len;
		char *name;
		int32_t next;
		uint32_t by = 0;
		int rc = objgraph_unescape(to + i, end - i, &name);

		if (rc == -EINVAL)
			return view_errf(
				err, errlen, -EINVAL, &mp->to_pos,
				"'%s' is not an object path: '.' must be escaped as '..' ('/' in a name as '.S')",
				view_shown(shown, to, to_len));
		if (rc)
			return om_oom(v, err, errlen);
		next = merged_child(om, at, name, &by);
		if (!slash) {
			if (next >= 0) {
				free(name);
				return view_errf(
					err, errlen, -EEXIST, &mp->to_pos,
					"object '%s' is produced twice: by this line and by line %d",
					view_shown(shown, to, to_len), v->m->maps[by].pos.line);
			}
			return add_edge(om, at, name, node, (uint32_t)map) ? om_oom(v, err, errlen)
									   : 0;
		}
		if (next < 0) {
			next = new_node(om, -1, 0, (uint32_t)map);
			if (next < 0 || add_edge(om, at, name, next, (uint32_t)map))
				return next < 0 ? (free(name), om_oom(v, err, errlen))
						: om_oom(v, err, errlen);
		} else {
			free(name);
		}
		at = next;
		i = end + 1;
	}
}

/* Include node and everything reachable from it through uncut edges. */
static int include_whole(struct view *v, size_t s, int32_t node, uint32_t map, char *err,
			 size_t errlen)
{
	struct objmerge *om = v->om;
	const struct objgraph *g = om->src[s].g;
	int32_t *queue = malloc((g->n_nodes + 1) * sizeof(*queue));
	size_t head = 0, tail = 0;
	int32_t m0 = include(om, s, node, map);

	if (!queue || m0 < 0) {
		free(queue);
		return om_oom(v, err, errlen);
	}
	if (!om->nodes[m0].whole) {
		om->nodes[m0].whole = 1;
		queue[tail++] = node;
	}
	while (head < tail) {
		int32_t u = queue[head++];

		for (size_t c = 0; c < g->nodes[u].n_children; c++) {
			int32_t t = g->nodes[u].children[c].node_id, mt;
			int cut = om_edge_cut(v, s, u, c);

			if (cut < 0 || (!cut && (mt = include(om, s, t, map)) < 0)) {
				free(queue);
				return om_oom(v, err, errlen);
			}
			if (cut || om->nodes[mt].whole)
				continue;
			om->nodes[mt].whole = 1;
			queue[tail++] = t;
		}
	}
	free(queue);
	return 0;
}

static int dot_end(const char *s, size_t len) { return len > 1 && s[len - 1] == '.'; }

int objmerge_map(struct view *v, size_t map, char *err, size_t errlen)
{
	struct objmerge *om = v->om;
	const struct mapping_map *mp = &v->m->maps[map];
	const struct osrc *o = &om->src[mp->source];
	size_t flen =
		mp->kind == MAPPING_MAP_ROOT ? 0 : mp->from_len - (mp->kind == MAPPING_MAP_SCOPE);
	size_t tlen = mp->kind == MAPPING_MAP_TENSOR ? mp->to_len : mp->to_len ? mp->to_len - 1 : 0;
	int32_t node = om_resolve_path(o->g, mp->from, flen), mn;
	char shown[VIEW_SHOWN_MAX], alt[1024];
	int rc;

	/* a '.' ends a prefix of dotted tensor names; object paths are '/'-separated */
	if (mp->kind != MAPPING_MAP_TENSOR &&
	    (dot_end(mp->from, mp->from_len) || dot_end(mp->to, mp->to_len)))
		return view_errf(
			err, errlen, -EINVAL,
			dot_end(mp->from, mp->from_len) ? &mp->from_pos : &mp->to_pos,
			"'%s' ends in '.', a prefix of tensor names, but source '%s' is read by object paths: end a scope of objects with '/'",
			dot_end(mp->from, mp->from_len) ? view_shown(shown, mp->from, mp->from_len)
							: view_shown(shown, mp->to, mp->to_len),
			v->m->sources[mp->source].name);
	if (!om->n_nodes && new_node(om, -1, 0, (uint32_t)map) < 0)
		return om_oom(v, err, errlen);
	if (node < 0) {
		om_suggest_paths(o, mp->from, flen, mp->kind == MAPPING_MAP_TENSOR ? "" : "/", alt,
				 sizeof(alt));
		return view_errf(
			err, errlen, -ENOENT, &mp->from_pos, "source '%s' has no object '%s'%s%s%s",
			v->m->sources[mp->source].name, view_shown(shown, mp->from, mp->from_len),
			*alt ? " (did you mean " : "", alt, *alt ? "?)" : "");
	}
	if (mp->kind == MAPPING_MAP_TENSOR && !o->g->nodes[node].n_attrs &&
	    o->g->nodes[node].n_children)
		view_warn(
			v, &mp->from_pos,
			"object '%s' holds no variable of its own, so this line moves none: 'map %s:%s/ -> %s/' takes its children",
			view_shown(shown, mp->from, mp->from_len), v->m->sources[mp->source].name,
			view_shown(shown, mp->from, mp->from_len),
			view_shown(alt, mp->to, mp->to_len));
	if (mp->kind == MAPPING_MAP_TENSOR)
		mn = include(om, mp->source, node, (uint32_t)map);
	else
		mn = include_whole(v, mp->source, node, (uint32_t)map, err, errlen)
			     ? -2
			     : om->src[mp->source].merged[node];
	if (mn == -2)
		return -ENOMEM;
	if (mn < 0)
		return om_oom(v, err, errlen);
	rc = attach(v, map, mp->to, tlen, mn, err, errlen);
	if (rc == 1) {
		/* the object is the merged root: node 0 takes its place */
		om->nodes[0].src = om->nodes[mn].src;
		om->nodes[0].id = om->nodes[mn].id;
		om->nodes[0].whole = om->nodes[mn].whole;
		om->nodes[0].map = om->nodes[mn].map;
		om->nodes[mn].src = -1; /* an orphan, never numbered */
		om->src[mp->source].merged[node] = 0;
		rc = 0;
	}
	return rc;
}

/*
 * Slot variables come along when their optimizer and their variable do,
 * unless an exclude line matches the slot's path.
 */
static int include_slots(const struct view *v, struct objmerge *om)
{
	size_t n = om->n_nodes;

	for (size_t i = 0; i < n; i++) {
		/* copied: include() may move om->nodes */
		const int32_t src = om->nodes[i].src, id = om->nodes[i].id;
		const uint32_t map = om->nodes[i].map;
		const struct objgraph_node *g;

		if (src < 0)
			continue;
		g = &om->src[src].g->nodes[id];
		for (size_t k = 0; k < g->n_slots; k++) {
			int32_t slot = g->slots[k].slot_variable_node_id;
			int cut;

			if (om->src[src].merged[g->slots[k].original_variable_node_id] < 0)
				continue;
			cut = om_slot_cut(v, (size_t)src, slot);
			if (cut < 0 || (!cut && include(om, (size_t)src, slot, map) < 0))
				return -ENOMEM;
		}
	}
	return 0;
}

/*
 * `checkpoint = object-based`: each tensor a line brought by name (a TF1
 * source's, or a TF2 source's by key) becomes a variable object at the
 * path its target name spells, so that tf.train.Checkpoint can restore it.
 */
static int adopt_named(struct view *v, char *err, size_t errlen)
{
	struct objmerge *om = v->om;
	size_t n = v->n_targets;

	for (size_t t = 0; t < n; t++) {
		const struct view_target *x = &v->targets[t];
		int32_t node;
		int rc;

		const struct bundle_entry e = view_target_src(v, x);

		if (bundle_entry_is_piece(&e))
			continue;
		if (!om->n_nodes && new_node(om, -1, 0, x->map) < 0)
			return om_oom(v, err, errlen);
		node = new_node(om, -1, 0, x->map);
		if (node < 0)
			return om_oom(v, err, errlen);
		om->nodes[node].target = (int32_t)t;
		rc = attach(v, x->map, x->key, x->key_len, node, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int om_complete(struct view *v, char *err, size_t errlen)
{
	int rc = 0;

	if (v->m->checkpoint == MAPPING_CHECKPOINT_OBJECT_BASED)
		rc = adopt_named(v, err, errlen);
	if (rc == 0 && include_slots(v, v->om))
		rc = om_oom(v, err, errlen);
	return rc;
}
