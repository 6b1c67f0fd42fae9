/*
 * objmerge.c - TF2 sources merged by object (mapping.md, "Object paths"):
 * for a source whose index holds _CHECKPOINTABLE_OBJECT_GRAPH, map and
 * exclude lines name objects by their paths, and the merged checkpoint
 * carries one rewritten object graph, because tf.train.Checkpoint restores
 * by walking that graph from its root, not by key.
 *
 * The merged graph is built in three steps: map lines include source
 * nodes (each at most once, however many lines or paths reach it) and
 * hang them at their target paths under a fresh root; objmerge_finish
 * numbers the nodes breadth-first, as TensorFlow's saver does, rewrites
 * children, slot variables and has_checkpoint_values, and regenerates
 * every checkpoint key from the new paths (objgraph_key); then each
 * attribute becomes a target pointing at its source tensor's bytes, and
 * the serialized graph becomes the one tensor whose bytes are synthesized
 * (a sealed memfd, so every reader of a data file sees an fd, as for the
 * source shards).
 *
 * Two mappings keep the graph as the source has it: one with an exact
 * rule for _CHECKPOINTABLE_OBJECT_GRAPH (version 1 mappings, read by key
 * throughout), and the identity mount of one TF2 source (`map a:/ -> /`
 * alone, no exclude on it), whose graph is carried byte-identical.
 */
#define _GNU_SOURCE /* memfd_create */
#include "view/view_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/util.h"
#include "view/nametable.h"

/*
 * An edge a target path adds to a merged node. key is what the edge
 * index hashes: the parent's number (4 bytes), then the local name, so
 * that a child is found in O(1) however many a node has (a flat TF1
 * scope of a million tensors under `checkpoint = object-based`).
 */
struct medge {
	char *key;    /* owned: int32 parent, then the local name, unescaped, NUL-terminated */
	size_t len;   /* of key, without the NUL */
	int32_t to;   /* merged node */
	uint32_t map; /* the line that added it */
};

#define EDGE_NAME(e) ((e)->key + sizeof(int32_t))

/* A node of the merged graph, in the order it was created. */
struct mnode {
	int32_t src;  /* source index, or -1 for a node a target path made */
	int32_t id;   /* the node in that source's graph */
	int whole;    /* the source node's children come along */
	uint32_t map; /* the line that brought it */
	/* `checkpoint = object-based`: a variable holding v->targets[target], a
	 * tensor read by name; -1 for every other node */
	int32_t target;
	uint32_t *extra; /* owned: the edges target paths added, indexes into objmerge.edges */
	size_t n_extra, cap_extra;
};

struct osrc {
	struct objgraph *g; /* owned; NULL: not read by object paths */
	struct objgraph_walk w;
	int32_t *merged; /* per source node: merged node, or -1 */
};

struct objmerge {
	struct osrc *src; /* m->n_sources */
	struct mnode *nodes;
	size_t n_nodes, cap_nodes;
	struct medge *edges; /* owned */
	size_t n_edges, cap_edges;
	struct nametable edge_index; /* medge.key -> index into edges */
	int root_taken;              /* a line attached an object as the root */
	uint32_t root_map;
};

static int oom(const struct view *v, char *err, size_t errlen)
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
		return oom(v, err, errlen);
	for (size_t i = 0; i < o->g->n_nodes; i++)
		o->merged[i] = -1;
	return 0;
}

/* The exact rule that makes a mapping legacy() conflicts with `checkpoint = object-based`. */
static int legacy_conflict(const struct view *v, char *err, size_t errlen)
{
	const struct mapping *m = v->m;
	size_t i = 0;

	while (!is_graph_key(m->maps[i].from, m->maps[i].from_len) && !is_graph_key(m->maps[i].to, m->maps[i].to_len))
		i++;
	return view_errf(err, errlen, -EINVAL, &m->checkpoint_pos,
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
		return oom(v, err, errlen);
	for (size_t s = 0; rc == 0 && s < m->n_sources; s++)
		if (has_graph(v, s))
			rc = open_graph(v, s, err, errlen);
	return rc;
}

int objmerge_is_object_source(const struct view *v, size_t s)
{
	return v->om && v->om->src[s].g;
}

static int32_t resolve_path(const struct objgraph *g, const char *path, size_t len);

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
	if (resolve_path(o->g, mp->from, flen) >= 0)
		return 1;
	/* not an object: a tensor name or a scope of names, read by name */
	if (mp->kind == MAPPING_MAP_TENSOR)
		return bundle_find(v->readers[mp->source], mp->from, mp->from_len) == BUNDLE_NOT_FOUND;
	return !has_key_prefix(v->readers[mp->source], mp->from, mp->from_len);
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

/* ------------------------------------------------------------ paths */

/* The child of node named by escaped component comp, or -1. */
static int32_t find_child(const struct objgraph *g, int32_t node, const char *comp, size_t len)
{
	const struct objgraph_node *n = &g->nodes[node];
	char *name;
	int32_t found = -1;

	if (objgraph_unescape(comp, len, &name))
		return -1;
	for (size_t c = 0; c < n->n_children && found < 0; c++)
		if (!strcmp(n->children[c].local_name, name))
			found = n->children[c].node_id;
	free(name);
	return found;
}

/* The node at object path (len bytes, no trailing '/'; "" is the root), or -1. */
static int32_t resolve_path(const struct objgraph *g, const char *path, size_t len)
{
	int32_t node = 0;
	size_t i = 0;

	while (node >= 0 && i < len) {
		const char *slash = memchr(path + i, '/', len - i);
		size_t end = slash ? (size_t)(slash - path) : len;

		node = find_child(g, node, path + i, end - i);
		i = end + 1;
	}
	return node;
}

/* Path of edge c of node (TensorFlow's name for its target through it). */
static char *edge_path(const struct osrc *o, int32_t node, size_t c)
{
	char *parent = NULL, *name = objgraph_escape(o->g->nodes[node].children[c].local_name), *s;
	size_t pl = 0;

	if (!name || objgraph_path(&o->w, node, &parent, &pl, NULL, 0)) {
		free(name);
		return NULL;
	}
	s = malloc(pl + strlen(name) + 2);
	if (s) {
		memcpy(s, parent, pl);
		s[pl] = '/';
		strcpy(s + pl + (pl ? 1 : 0), name);
	}
	free(parent);
	free(name);
	return s;
}

/* Whether an exclude line applies to source s at all. */
static int has_excludes(const struct mapping *m, size_t s)
{
	for (size_t x = 0; x < m->n_excludes; x++)
		if (m->excludes[x].source < 0 || (size_t)m->excludes[x].source == s)
			return 1;
	return 0;
}

/* Whether an exclude line of source s matches path; frees path; -ENOMEM if NULL. */
static int excluded(const struct mapping *m, size_t s, char *path)
{
	int cut = 0;

	if (!path)
		return -ENOMEM;
	for (size_t x = 0; !cut && x < m->n_excludes; x++)
		if (m->excludes[x].source < 0 || (size_t)m->excludes[x].source == s)
			cut = fnmatch(m->excludes[x].glob, path, 0) == 0;
	free(path);
	return cut;
}

/* Whether an exclude line cuts edge c of node in source s; -ENOMEM. */
static int edge_cut(const struct view *v, size_t s, int32_t node, size_t c)
{
	if (!has_excludes(v->m, s))
		return 0;
	return excluded(v->m, s, edge_path(&v->om->src[s], node, c));
}

/*
 * Whether an exclude line of source s matches the path of slot variable
 * node (its source name, "<var>/.OPTIMIZER_SLOT/<optimizer>/<slot>"); -ENOMEM.
 */
static int slot_cut(const struct view *v, size_t s, int32_t node)
{
	char *path = NULL;

	if (!has_excludes(v->m, s))
		return 0;
	if (objgraph_path(&v->om->src[s].w, node, &path, NULL, NULL, 0))
		return -ENOMEM;
	return excluded(v->m, s, path);
}

static int named(const struct osrc *o, size_t node)
{
	enum objgraph_via via = o->w.origin[node].via;

	return via == OBJGRAPH_ROOT || via == OBJGRAPH_CHILD;
}

size_t objmerge_exclude(const struct view *v, size_t x, size_t s)
{
	const struct osrc *o = &v->om->src[s];
	size_t hits = 0;

	for (size_t i = 0; i < o->g->n_nodes; i++) {
		char *path = NULL;

		for (size_t c = 0; named(o, i) && c < o->g->nodes[i].n_children; c++) {
			path = edge_path(o, (int32_t)i, c);
			hits += path && fnmatch(v->m->excludes[x].glob, path, 0) == 0;
			free(path);
		}
		/* a slot variable is no child: its own path is matched */
		if (o->w.origin[i].via == OBJGRAPH_SLOT &&
		    !objgraph_path(&o->w, (int32_t)i, &path, NULL, NULL, 0)) {
			hits += fnmatch(v->m->excludes[x].glob, path, 0) == 0;
			free(path);
		}
	}
	return hits;
}

/* "did you mean": the source's object paths closest to what was typed. */
static void suggest_paths(const struct osrc *o, const char *q, size_t ql, const char *tail, char *buf, size_t len)
{
	char best[3][256] = { "", "", "" };
	size_t bd[3] = { SIZE_MAX, SIZE_MAX, SIZE_MAX }, limit = ql / 3 > 2 ? ql / 3 : 2;

	for (size_t i = 0; i < o->g->n_nodes; i++) {
		char *p;
		size_t pl, d, worst = 0;

		if (o->w.origin[i].via != OBJGRAPH_CHILD || objgraph_path(&o->w, (int32_t)i, &p, &pl, NULL, 0))
			continue;
		d = pl < sizeof(best[0]) ? util_edit_distance(q, ql, p, pl, limit, UTIL_EDIT_FOLD_CASE) : limit + 1;
		for (size_t k = 1; k < 3; k++)
			if (bd[k] > bd[worst] || (bd[k] == bd[worst] && bd[k] == SIZE_MAX))
				worst = k;
		if (d <= limit && d < bd[worst]) {
			memcpy(best[worst], p, pl + 1);
			bd[worst] = d;
		}
		free(p);
	}
	buf[0] = '\0';
	for (size_t round = 0, used = 0, n = 0; round < 3; round++) {
		size_t k = 0;
		char shown[VIEW_SHOWN_MAX];

		for (size_t j = 1; j < 3; j++)
			if (bd[j] < bd[k])
				k = j;
		if (bd[k] == SIZE_MAX || used >= len)
			break;
		used += (size_t)snprintf(buf + used, len - used, "%s'%s%s'", n++ ? ", " : "",
					 view_shown(shown, best[k], strlen(best[k])), tail);
		bd[k] = SIZE_MAX;
	}
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

/* The edge that target paths added from node `from` under name, or NULL. */
static const struct medge *added_edge(const struct objmerge *om, int32_t from, const char *name)
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
	void *pe = key ? util_grow(om->edges, &om->cap_edges, om->n_edges + 1, sizeof(*om->edges)) : NULL;
	void *px = pe ? util_grow(n->extra, &n->cap_extra, n->n_extra + 1, sizeof(*n->extra)) : NULL;
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
static int32_t merged_child(const struct objmerge *om, int32_t node, const char *name, uint32_t *map)
{
	const struct mnode *n = &om->nodes[node];
	const struct medge *added = added_edge(om, node, name);

	if (added) {
		*map = added->map;
		return added->to;
	}
	if (n->src >= 0 && n->whole) {
		const struct osrc *o = &om->src[n->src];
		const struct objgraph_node *g = &o->g->nodes[n->id];

		for (size_t c = 0; c < g->n_children; c++)
			if (!strcmp(g->children[c].local_name, name) && o->merged[g->children[c].node_id] >= 0) {
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
static int attach(struct view *v, size_t map, const char *to, size_t to_len, int32_t node, char *err,
		  size_t errlen)
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
			return view_errf(err, errlen, -EINVAL, &mp->to_pos,
					 "'%s' is not an object path: '.' must be escaped as '..' ('/' in a name as '.S')",
					 view_shown(shown, to, to_len));
		if (rc)
			return oom(v, err, errlen);
		next = merged_child(om, at, name, &by);
		if (!slash) {
			if (next >= 0) {
				free(name);
				return view_errf(err, errlen, -EEXIST, &mp->to_pos,
						 "object '%s' is produced twice: by this line and by line %d",
						 view_shown(shown, to, to_len), v->m->maps[by].pos.line);
			}
			return add_edge(om, at, name, node, (uint32_t)map) ? oom(v, err, errlen) : 0;
		}
		if (next < 0) {
			next = new_node(om, -1, 0, (uint32_t)map);
			if (next < 0 || add_edge(om, at, name, next, (uint32_t)map))
				return next < 0 ? (free(name), oom(v, err, errlen)) : oom(v, err, errlen);
		} else {
			free(name);
		}
		at = next;
		i = end + 1;
	}
}

/* Include node and everything reachable from it through uncut edges. */
static int include_whole(struct view *v, size_t s, int32_t node, uint32_t map, char *err, size_t errlen)
{
	struct objmerge *om = v->om;
	const struct objgraph *g = om->src[s].g;
	int32_t *queue = malloc((g->n_nodes + 1) * sizeof(*queue));
	size_t head = 0, tail = 0;
	int32_t m0 = include(om, s, node, map);

	if (!queue || m0 < 0) {
		free(queue);
		return oom(v, err, errlen);
	}
	if (!om->nodes[m0].whole) {
		om->nodes[m0].whole = 1;
		queue[tail++] = node;
	}
	while (head < tail) {
		int32_t u = queue[head++];

		for (size_t c = 0; c < g->nodes[u].n_children; c++) {
			int32_t t = g->nodes[u].children[c].node_id, mt;
			int cut = edge_cut(v, s, u, c);

			if (cut < 0 || (!cut && (mt = include(om, s, t, map)) < 0)) {
				free(queue);
				return oom(v, err, errlen);
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

int objmerge_map(struct view *v, size_t map, char *err, size_t errlen)
{
	struct objmerge *om = v->om;
	const struct mapping_map *mp = &v->m->maps[map];
	const struct osrc *o = &om->src[mp->source];
	size_t flen = mp->kind == MAPPING_MAP_ROOT ? 0 : mp->from_len - (mp->kind == MAPPING_MAP_SCOPE);
	size_t tlen = mp->kind == MAPPING_MAP_TENSOR ? mp->to_len : mp->to_len ? mp->to_len - 1
									       : 0;
	int32_t node = resolve_path(o->g, mp->from, flen), mn;
	char shown[VIEW_SHOWN_MAX], alt[1024];
	int rc;

	if (!om->n_nodes && new_node(om, -1, 0, (uint32_t)map) < 0)
		return oom(v, err, errlen);
	if (node < 0) {
		suggest_paths(o, mp->from, flen, mp->kind == MAPPING_MAP_TENSOR ? "" : "/", alt, sizeof(alt));
		return view_errf(err, errlen, -ENOENT, &mp->from_pos, "source '%s' has no object '%s'%s%s%s",
				 v->m->sources[mp->source].name, view_shown(shown, mp->from, mp->from_len),
				 *alt ? " (did you mean " : "", alt, *alt ? "?)" : "");
	}
	if (mp->kind == MAPPING_MAP_TENSOR)
		mn = include(om, mp->source, node, (uint32_t)map);
	else
		mn = include_whole(v, mp->source, node, (uint32_t)map, err, errlen) ? -2
										    : om->src[mp->source].merged[node];
	if (mn == -2)
		return -ENOMEM;
	if (mn < 0)
		return oom(v, err, errlen);
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

/* ------------------------------------------------------ the new graph */

/* What objmerge_finish builds; freed by release(). */
struct out {
	struct objgraph g; /* nodes and their arrays: owned */
	int32_t *newid;    /* per merged node: its number, or -1 */
	int32_t *order;    /* per number: the merged node */
	char **keys;       /* owned: the regenerated keys, per attribute */
	size_t n_keys;
};

static void release(struct out *o)
{
	for (size_t i = 0; o->g.nodes && i < o->g.n_nodes; i++) {
		free(o->g.nodes[i].children);
		free(o->g.nodes[i].attrs);
		free(o->g.nodes[i].slots);
	}
	for (size_t i = 0; o->keys && i < o->n_keys; i++)
		free(o->keys[i]);
	free(o->keys);
	free(o->g.nodes);
	free(o->newid);
	free(o->order);
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
			cut = slot_cut(v, (size_t)src, slot);
			if (cut < 0 || (!cut && include(om, (size_t)src, slot, map) < 0))
				return -ENOMEM;
		}
	}
	return 0;
}

/*
 * The children of merged node i as (name, merged node) pairs in *out
 * (malloc'd, caller frees): the source node's uncut edges, then the
 * edges target paths added. A name twice is an error.
 */
static int children_of(struct view *v, size_t i, struct objgraph_child **out, size_t *n, char *err, size_t errlen)
{
	struct objmerge *om = v->om;
	const struct mnode *m = &om->nodes[i];
	const struct objgraph_node *g = m->src >= 0 && m->whole ? &om->src[m->src].g->nodes[m->id] : NULL;
	size_t cap = (g ? g->n_children : 0) + m->n_extra;
	struct objgraph_child *c = malloc((cap + 1) * sizeof(*c));

	*n = 0;
	if (!c)
		return oom(v, err, errlen);
	for (size_t k = 0; g && k < g->n_children; k++) {
		int32_t t = om->src[m->src].merged[g->children[k].node_id];
		int cut = edge_cut(v, (size_t)m->src, m->id, k);

		if (cut < 0) {
			free(c);
			return oom(v, err, errlen);
		}
		if (!cut && t >= 0)
			c[(*n)++] = (struct objgraph_child){ t, g->children[k].local_name };
	}
	/* target paths add no name twice (attach), but may add a source's */
	for (size_t k = 0; k < *n; k++) {
		const struct medge *e = added_edge(om, (int32_t)i, c[k].local_name);
		char shown[VIEW_SHOWN_MAX];

		if (!e)
			continue;
		free(c);
		return view_errf(err, errlen, -EEXIST, &v->m->maps[e->map].to_pos,
				 "object '%s' is produced twice: by this line and by line %d",
				 view_shown(shown, EDGE_NAME(e), strlen(EDGE_NAME(e))), v->m->maps[m->map].pos.line);
	}
	for (size_t e = 0; e < m->n_extra; e++) {
		const struct medge *x = &om->edges[m->extra[e]];

		c[(*n)++] = (struct objgraph_child){ x->to, EDGE_NAME(x) };
	}
	*out = c;
	return 0;
}

/* Number the nodes breadth-first from the root, as TensorFlow's saver. */
static int number(struct view *v, struct out *o, char *err, size_t errlen)
{
	struct objmerge *om = v->om;
	size_t head = 0, tail = 0;
	int rc = 0;

	o->newid = malloc((om->n_nodes + 1) * sizeof(int32_t));
	o->order = malloc((om->n_nodes + 1) * sizeof(int32_t));
	o->g.nodes = calloc(om->n_nodes + 1, sizeof(*o->g.nodes));
	if (!o->newid || !o->order || !o->g.nodes)
		return oom(v, err, errlen);
	for (size_t i = 0; i < om->n_nodes; i++)
		o->newid[i] = -1;
	o->newid[0] = 0;
	o->order[tail++] = 0;
	while (rc == 0 && head < tail) {
		int32_t u = o->order[head];
		struct objgraph_node *n = &o->g.nodes[head++];

		rc = children_of(v, (size_t)u, &n->children, &n->n_children, err, errlen);
		for (size_t c = 0; rc == 0 && c < n->n_children; c++) {
			int32_t t = n->children[c].node_id;

			if (o->newid[t] < 0) {
				o->newid[t] = (int32_t)tail;
				o->order[tail++] = t;
			}
			n->children[c].node_id = o->newid[t];
		}
	}
	/* then the slot variables, in the order their optimizers were found */
	for (size_t i = 0; rc == 0 && i < head; i++) {
		const struct mnode *m = &om->nodes[o->order[i]];
		const struct objgraph_node *g = m->src >= 0 ? &om->src[m->src].g->nodes[m->id] : NULL;

		for (size_t k = 0; g && k < g->n_slots; k++) {
			int32_t var = om->src[m->src].merged[g->slots[k].original_variable_node_id];
			int32_t slot = om->src[m->src].merged[g->slots[k].slot_variable_node_id];

			if (var < 0 || o->newid[var] < 0 || slot < 0 || o->newid[slot] >= 0)
				continue;
			o->newid[slot] = (int32_t)tail;
			o->order[tail++] = slot;
		}
	}
	o->g.n_nodes = tail;
	return rc;
}

/* has_checkpoint_values as TensorFlow's _add_checkpoint_values_check: a
 * node with attributes, slots or a saver, and every ancestor of one. */
static int mark_values(struct objgraph *g)
{
	size_t n = g->n_nodes, edges = 0, head = 0, tail = 0;
	size_t *start = calloc(n + 2, sizeof(size_t));
	int32_t *parent, *queue = malloc((n + 1) * sizeof(int32_t));

	for (size_t i = 0; start && i < n; i++) {
		edges += g->nodes[i].n_children;
		for (size_t c = 0; c < g->nodes[i].n_children; c++)
			start[g->nodes[i].children[c].node_id + 1]++;
	}
	parent = malloc((edges + 1) * sizeof(int32_t));
	if (!start || !parent || !queue) {
		free(start);
		free(parent);
		free(queue);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		start[i + 1] += start[i];
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < g->nodes[i].n_children; c++)
			parent[start[g->nodes[i].children[c].node_id]++] = (int32_t)i;
	/* start[i] is now the end of i's parents: step back to their start */
	for (size_t i = n; i > 0; i--)
		start[i] = start[i - 1];
	start[0] = 0;
	for (size_t i = 0; i < n; i++) {
		struct objgraph_node *x = &g->nodes[i];

		x->has_checkpoint_values = x->n_attrs || x->n_slots || x->saver_name;
		if (x->has_checkpoint_values)
			queue[tail++] = (int32_t)i;
	}
	while (head < tail) {
		int32_t u = queue[head++];

		for (size_t p = start[u]; p < start[u + 1]; p++)
			if (!g->nodes[parent[p]].has_checkpoint_values) {
				g->nodes[parent[p]].has_checkpoint_values = 1;
				queue[tail++] = parent[p];
			}
	}
	free(start);
	free(parent);
	free(queue);
	return 0;
}

/* Attributes and slots of the numbered nodes, from their sources. */
static int fill_nodes(struct view *v, struct out *o, char *err, size_t errlen)
{
	struct objmerge *om = v->om;

	for (size_t i = 0; i < o->g.n_nodes; i++) {
		const struct mnode *m = &om->nodes[o->order[i]];
		struct objgraph_node *n = &o->g.nodes[i];
		const struct objgraph_node *g;
		char path[VIEW_SHOWN_MAX];

		n->has_checkpoint_values = OBJGRAPH_UNSET;
		if (m->src < 0 && m->target >= 0) {
			n->attrs = malloc(sizeof(*n->attrs));
			if (!n->attrs)
				return oom(v, err, errlen);
			/* as TensorFlow saves a variable; full_name is its TF1 name */
			n->attrs[0] = (struct objgraph_attr){ "VARIABLE_VALUE",
							      view_target_src(v, &v->targets[m->target]).key, "", 0 };
			n->n_attrs = 1;
		}
		if (m->src < 0)
			continue;
		g = &om->src[m->src].g->nodes[m->id];
		if (g->saver_name) {
			char *p = NULL;
			size_t pl = 0;

			objgraph_path(&om->src[m->src].w, m->id, &p, &pl, NULL, 0);
			view_errf(err, errlen, -ENOTSUP, &v->m->maps[m->map].from_pos,
				  "object '%s' of source '%s' saves itself through registered saver '%s': map its source whole, as '%s:/ -> /'",
				  view_shown(path, p ? p : "", pl), v->m->sources[m->src].name, g->saver_name,
				  v->m->sources[m->src].name);
			free(p);
			return -ENOTSUP;
		}
		n->attrs = malloc((g->n_attrs + 1) * sizeof(*n->attrs));
		n->slots = malloc((g->n_slots + 1) * sizeof(*n->slots));
		if (!n->attrs || !n->slots)
			return oom(v, err, errlen);
		n->n_attrs = g->n_attrs;
		memcpy(n->attrs, g->attrs, g->n_attrs * sizeof(*n->attrs));
		for (size_t k = 0; k < g->n_slots; k++) {
			int32_t var = om->src[m->src].merged[g->slots[k].original_variable_node_id];
			int32_t slot = om->src[m->src].merged[g->slots[k].slot_variable_node_id];

			if (var < 0 || slot < 0 || o->newid[var] < 0 || o->newid[slot] < 0)
				continue;
			n->slots[n->n_slots++] = (struct objgraph_slot){ o->newid[var], g->slots[k].slot_name,
									 o->newid[slot] };
		}
	}
	return mark_values(&o->g) ? oom(v, err, errlen) : 0;
}

/* Every attribute's key, as TensorFlow would name it in the new graph. */
static int regenerate_keys(struct view *v, struct out *o, char *err, size_t errlen)
{
	struct objgraph_walk w;
	size_t total = 0;
	char msg[BUNDLE_ERR_MAX];
	struct mapping_pos none = { v->m->file, 0, 0 };
	int rc = objgraph_walk_init(&w, &o->g, msg, sizeof(msg));

	if (rc)
		return view_errf(err, errlen, rc, &none, "the merged object graph: %s", msg);
	for (size_t i = 0; i < o->g.n_nodes; i++)
		total += o->g.nodes[i].n_attrs;
	o->keys = calloc(total + 1, sizeof(char *));
	for (size_t i = 0; rc == 0 && o->keys && i < o->g.n_nodes; i++) {
		for (size_t a = 0; rc == 0 && a < o->g.nodes[i].n_attrs; a++) {
			rc = objgraph_key(&w, (int32_t)i, a, &o->keys[o->n_keys], NULL, msg, sizeof(msg));
			if (rc == 0)
				o->g.nodes[i].attrs[a].checkpoint_key = o->keys[o->n_keys++];
		}
	}
	objgraph_walk_release(&w);
	if (!o->keys)
		return oom(v, err, errlen);
	return rc ? view_errf(err, errlen, rc, &none, "the merged object graph: %s", msg) : 0;
}

/*
 * The targets of the new graph, in its order: a renamed tensor for each
 * variable a name made, a target with its new key for each attribute of
 * a source object. Every regenerated key is used once: t[] gets as many.
 */
static int list_targets(struct view *v, const struct out *o, struct objmerge_targets *ts, char *err,
			size_t errlen)
{
	struct objmerge *om = v->om;

	ts->t = malloc((o->n_keys + 1) * sizeof(*ts->t));
	if (!ts->t)
		return oom(v, err, errlen);
	for (size_t i = 0; i < o->g.n_nodes; i++) {
		const struct mnode *m = &om->nodes[o->order[i]];
		const struct objgraph_node *g = m->src >= 0 ? &om->src[m->src].g->nodes[m->id] : NULL;

		if (m->target >= 0)
			ts->t[ts->n++] = (struct objmerge_target){ o->g.nodes[i].attrs[0].checkpoint_key,
								   (uint32_t)m->target, m->map, 1 };
		for (size_t a = 0; g && a < g->n_attrs; a++) {
			const char *old = g->attrs[a].checkpoint_key;
			size_t at = bundle_find(v->readers[m->src], old, strlen(old));
			char shown[VIEW_SHOWN_MAX];
			struct bundle_entry e;

			if (at != BUNDLE_NOT_FOUND)
				e = bundle_entry_at(v->readers[m->src], at);
			if (at == BUNDLE_NOT_FOUND || bundle_entry_is_piece(&e))
				return view_errf(err, errlen, -EBADMSG, &v->m->sources[m->src].path_pos,
						 "source '%s': its object graph names tensor '%s', which its index lacks",
						 v->m->sources[m->src].name, view_shown(shown, old, strlen(old)));
			ts->t[ts->n++] = (struct objmerge_target){ o->g.nodes[i].attrs[a].checkpoint_key,
								   (uint32_t)at, m->map, 0 };
		}
	}
	return 0;
}

/* The serialized graph as the bytes of a string scalar, in a sealed memfd. */
static int store_graph(struct view *v, const struct out *o, char *err, size_t errlen)
{
	uint8_t *enc = NULL;
	size_t enc_len = 0;
	uint32_t crc;
	char msg[BUNDLE_ERR_MAX];
	struct mapping_pos none = { v->m->file, 0, 0 };
	int rc = objgraph_serialize_tensor(&o->g, &enc, &enc_len, &crc, msg, sizeof(msg));

	if (rc)
		return view_errf(err, errlen, rc, &none, "the merged object graph: %s", msg);
	v->graph_fd = memfd_create("ckptfs-object-graph", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	rc = v->graph_fd < 0 ? -errno : util_pwrite_full(v->graph_fd, enc, enc_len, 0);
	if (rc == 0 && fcntl(v->graph_fd, F_ADD_SEALS,
			     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL))
		rc = -errno;
	free(enc);
	if (rc)
		return view_errf(err, errlen, rc, &none, "cannot hold the merged object graph: %s", strerror(-rc));
	v->graph_entry = (struct bundle_entry){ .key = OBJGRAPH_TENSOR_KEY,
						.key_len = strlen(OBJGRAPH_TENSOR_KEY),
						.dtype = BUNDLE_DT_STRING,
						.size = (int64_t)enc_len,
						.crc32c = bundle_crc_mask(crc) };
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
			return oom(v, err, errlen);
		node = new_node(om, -1, 0, x->map);
		if (node < 0)
			return oom(v, err, errlen);
		om->nodes[node].target = (int32_t)t;
		rc = attach(v, x->map, x->key, x->key_len, node, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int objmerge_finish(struct view *v, struct objmerge_targets *out, char *err, size_t errlen)
{
	struct objmerge *om = v->om;
	struct out o = { 0 };
	int rc = 0;

	if (v->m->checkpoint == MAPPING_CHECKPOINT_OBJECT_BASED)
		rc = adopt_named(v, err, errlen);
	if (rc)
		return rc;
	if (!om->n_nodes)
		return 0; /* no line maps an object source */
	rc = include_slots(v, om) ? oom(v, err, errlen) : 0;
	if (rc == 0)
		rc = number(v, &o, err, errlen);
	/* children are numbered: no child is looked up again (the names stay) */
	nametable_release(&om->edge_index);
	if (rc == 0)
		rc = fill_nodes(v, &o, err, errlen);
	if (rc == 0)
		rc = regenerate_keys(v, &o, err, errlen);
	if (rc == 0)
		rc = list_targets(v, &o, out, err, errlen);
	if (rc == 0)
		rc = store_graph(v, &o, err, errlen);
	if (rc == 0) {
		out->graph = 1;
		out->graph_map = om->nodes[0].map;
	}
	/* the keys go with the targets that name them */
	out->keys = o.keys;
	out->n_keys = o.n_keys;
	o.keys = NULL;
	release(&o);
	return rc;
}

void objmerge_targets_release(struct objmerge_targets *ts)
{
	for (size_t i = 0; ts->keys && i < ts->n_keys; i++)
		free(ts->keys[i]);
	free(ts->keys);
	free(ts->t);
}
