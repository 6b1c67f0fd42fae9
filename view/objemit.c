/*
 * objemit.c - the merged object graph written out (objmerge_finish): its
 * nodes numbered breadth-first from the root, as TensorFlow's saver
 * numbers them; children, slot variables and has_checkpoint_values
 * rewritten; every checkpoint key regenerated from the new paths
 * (objgraph_key); then the list of targets plan.c adds for it, and the
 * serialized graph in a sealed memfd, the one tensor whose bytes no
 * source holds. The tree it numbers is objmerge.c's.
 */
#define _GNU_SOURCE /* memfd_create */
#include "view/objmerge_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/util.h"

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
 * The children of merged node i as (name, merged node) pairs in *out
 * (malloc'd, caller frees): the source node's uncut edges, then the
 * edges target paths added. A name twice is an error.
 */
static int children_of(struct view *v, size_t i, struct objgraph_child **out, size_t *n, char *err,
		       size_t errlen)
{
	struct objmerge *om = v->om;
	const struct mnode *m = &om->nodes[i];
	const struct objgraph_node *g =
		m->src >= 0 && m->whole ? &om->src[m->src].g->nodes[m->id] : NULL;
	size_t cap = (g ? g->n_children : 0) + m->n_extra;
	struct objgraph_child *c = malloc((cap + 1) * sizeof(*c));

	*n = 0;
	if (!c)
		return om_oom(v, err, errlen);
	for (size_t k = 0; g && k < g->n_children; k++) {
		int32_t t = om->src[m->src].merged[g->children[k].node_id];
		int cut = om_edge_cut(v, (size_t)m->src, m->id, k);

		if (cut < 0) {
			free(c);
			return om_oom(v, err, errlen);
		}
		if (!cut && t >= 0)
			c[(*n)++] = (struct objgraph_child){ t, g->children[k].local_name };
	}
	/* target paths add no name twice (attach), but may add a source's */
	for (size_t k = 0; k < *n; k++) {
		const struct medge *e = om_added_edge(om, (int32_t)i, c[k].local_name);
		char shown[VIEW_SHOWN_MAX];

		if (!e)
			continue;
		free(c);
		return view_errf(err, errlen, -EEXIST, &v->m->maps[e->map].to_pos,
				 "object '%s' is produced twice: by this line and by line %d",
				 view_shown(shown, EDGE_NAME(e), strlen(EDGE_NAME(e))),
				 v->m->maps[m->map].pos.line);
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
		return om_oom(v, err, errlen);
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
		const struct objgraph_node *g =
			m->src >= 0 ? &om->src[m->src].g->nodes[m->id] : NULL;

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
				return om_oom(v, err, errlen);
			/* as TensorFlow saves a variable; full_name is its TF1 name */
			n->attrs[0] = (struct objgraph_attr){
				"VARIABLE_VALUE", view_target_src(v, &v->targets[m->target]).key,
				"", 0
			};
			n->n_attrs = 1;
		}
		if (m->src < 0)
			continue;
		g = &om->src[m->src].g->nodes[m->id];
		if (g->saver_name) {
			char *p = NULL;
			size_t pl = 0;

			objgraph_path(&om->src[m->src].w, m->id, &p, &pl, NULL, 0);
			view_errf(
				err, errlen, -ENOTSUP, &v->m->maps[m->map].from_pos,
				"object '%s' of source '%s' saves itself through registered saver '%s': map its source whole, as '%s:/ -> /'",
				view_shown(path, p ? p : "", pl), v->m->sources[m->src].name,
				g->saver_name, v->m->sources[m->src].name);
			free(p);
			return -ENOTSUP;
		}
		n->attrs = malloc((g->n_attrs + 1) * sizeof(*n->attrs));
		n->slots = malloc((g->n_slots + 1) * sizeof(*n->slots));
		if (!n->attrs || !n->slots)
			return om_oom(v, err, errlen);
		n->n_attrs = g->n_attrs;
		memcpy(n->attrs, g->attrs, g->n_attrs * sizeof(*n->attrs));
		for (size_t k = 0; k < g->n_slots; k++) {
			int32_t var = om->src[m->src].merged[g->slots[k].original_variable_node_id];
			int32_t slot = om->src[m->src].merged[g->slots[k].slot_variable_node_id];

			if (var < 0 || slot < 0 || o->newid[var] < 0 || o->newid[slot] < 0)
				continue;
			n->slots[n->n_slots++] =
				(struct objgraph_slot){ o->newid[var], g->slots[k].slot_name,
							o->newid[slot] };
		}
	}
	return mark_values(&o->g) ? om_oom(v, err, errlen) : 0;
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
			rc = objgraph_key(&w, (int32_t)i, a, &o->keys[o->n_keys], NULL, msg,
					  sizeof(msg));
			if (rc == 0)
				o->g.nodes[i].attrs[a].checkpoint_key = o->keys[o->n_keys++];
		}
	}
	objgraph_walk_release(&w);
	if (!o->keys)
		return om_oom(v, err, errlen);
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
		return om_oom(v, err, errlen);
	for (size_t i = 0; i < o->g.n_nodes; i++) {
		const struct mnode *m = &om->nodes[o->order[i]];
		const struct objgraph_node *g =
			m->src >= 0 ? &om->src[m->src].g->nodes[m->id] : NULL;

		if (m->target >= 0)
			ts->t[ts->n++] =
				(struct objmerge_target){ o->g.nodes[i].attrs[0].checkpoint_key,
							  (uint32_t)m->target, m->map, 1 };
		for (size_t a = 0; g && a < g->n_attrs; a++) {
			const char *old = g->attrs[a].checkpoint_key;
			size_t at = bundle_find(v->readers[m->src], old, strlen(old));
			char shown[VIEW_SHOWN_MAX];
			struct bundle_entry e;

			if (at != BUNDLE_NOT_FOUND)
				e = bundle_entry_at(v->readers[m->src], at);
			if (at == BUNDLE_NOT_FOUND || bundle_entry_is_piece(&e))
				return view_errf(
					err, errlen, -EBADMSG, &v->m->sources[m->src].path_pos,
					"source '%s': its object graph names tensor '%s', which its index lacks",
					v->m->sources[m->src].name,
					view_shown(shown, old, strlen(old)));
			ts->t[ts->n++] =
				(struct objmerge_target){ o->g.nodes[i].attrs[a].checkpoint_key,
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
		return view_errf(err, errlen, rc, &none, "cannot hold the merged object graph: %s",
				 strerror(-rc));
	v->graph_entry = (struct bundle_entry){ .key = OBJGRAPH_TENSOR_KEY,
						.key_len = strlen(OBJGRAPH_TENSOR_KEY),
						.dtype = BUNDLE_DT_STRING,
						.size = (int64_t)enc_len,
						.crc32c = bundle_crc_mask(crc) };
	return 0;
}

int objmerge_finish(struct view *v, struct objmerge_targets *out, char *err, size_t errlen)
{
	struct objmerge *om = v->om;
	struct out o = { 0 };
	int rc = om_complete(v, err, errlen);

	if (rc || !om->n_nodes)
		return rc; /* !n_nodes: no line maps an object source */
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
