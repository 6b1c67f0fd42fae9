/*
 * walk.c - TensorFlow's names for the nodes of an object graph
 * (trackable_view.py _descendants_with_paths, util.py
 * serialize_slot_variables, trackable_utils.py escape_local_name,
 * checkpoint_key and slot_variable_key).
 *
 * The walk stores only how each node was first reached (an origin per
 * node), never the paths: all paths together can be quadratic in the graph
 * (a chain of n nodes), while one path is linear in the graph's bytes. A
 * path is built on request by following origins up to the root, first to
 * measure it, then writing it from its end backwards.
 */
#include "objgraph/objgraph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "objgraph/internal.h"

#define SLOT_SEP "/.OPTIMIZER_SLOT/"
#define ATTR_SEP "/.ATTRIBUTES/"
/* An attribute name that TensorFlow keys with an empty suffix. */
#define TENSORS_NAME ".TENSORS"

static void walk_children(struct objgraph_walk *w, int32_t *queue)
{
	const struct objgraph *g = w->graph;
	size_t head = 0, tail = 0;

	w->origin[0].via = OBJGRAPH_ROOT;
	queue[tail++] = 0;
	while (head < tail) {
		int32_t u = queue[head++];
		const struct objgraph_node *n = &g->nodes[u];

		for (size_t c = 0; c < n->n_children; c++) {
			int32_t v = n->children[c].node_id;

			if (w->origin[v].via != OBJGRAPH_UNREACHED)
				continue; /* a later (longer) path, or a cycle */
			w->origin[v].via = OBJGRAPH_CHILD;
			w->origin[v].from = u;
			w->origin[v].index = c;
			queue[tail++] = v;
		}
	}
}

static int in_tree(const struct objgraph_walk *w, int32_t node)
{
	enum objgraph_via via = w->origin[node].via;

	return via == OBJGRAPH_ROOT || via == OBJGRAPH_CHILD;
}

/*
 * objgraph_check made sure that a slot variable is nobody's child and has
 * one reference, so it is still unreached here and named once.
 */
static void walk_slots(struct objgraph_walk *w)
{
	const struct objgraph *g = w->graph;

	for (size_t i = 0; i < g->n_nodes; i++) {
		const struct objgraph_node *n = &g->nodes[i];

		if (!in_tree(w, (int32_t)i))
			continue;
		for (size_t s = 0; s < n->n_slots; s++) {
			int32_t v = n->slots[s].slot_variable_node_id;

			if (!in_tree(w, n->slots[s].original_variable_node_id))
				continue;
			w->origin[v].via = OBJGRAPH_SLOT;
			w->origin[v].from = (int32_t)i;
			w->origin[v].index = s;
		}
	}
}

int objgraph_walk_init(struct objgraph_walk *w, const struct objgraph *g, char *err, size_t errlen)
{
	int32_t *queue;
	int rc;

	rc = objgraph_check(g, err, errlen);
	if (rc)
		return rc;
	w->graph = g;
	w->origin = calloc(g->n_nodes, sizeof(*w->origin));
	queue = malloc(g->n_nodes * sizeof(*queue));
	if (!w->origin || !queue) {
		free(w->origin);
		free(queue);
		w->origin = NULL;
		return objgraph_errf(err, errlen, -ENOMEM, "out of memory");
	}
	walk_children(w, queue);
	walk_slots(w);
	free(queue);
	return 0;
}

void objgraph_walk_release(struct objgraph_walk *w)
{
	free(w->origin);
	w->origin = NULL;
	w->graph = NULL;
}

/* ------------------------------------------------------ building names */

static const char *edge_name(const struct objgraph_walk *w, int32_t node)
{
	const struct objgraph_origin *o = &w->origin[node];

	return w->graph->nodes[o->from].children[o->index].local_name;
}

/* Length of the path of a root or child node. */
static size_t tree_len(const struct objgraph_walk *w, int32_t node)
{
	size_t len = 0;

	for (; w->origin[node].via == OBJGRAPH_CHILD; node = w->origin[node].from)
		len += objgraph_escaped_len(edge_name(w, node)) + 1;
	return len ? len - 1 : 0; /* n names, n - 1 slashes */
}

/* Write that path so that it ends at end (tree_len bytes before it). */
static void put_tree(const struct objgraph_walk *w, int32_t node, char *end)
{
	while (w->origin[node].via == OBJGRAPH_CHILD) {
		const char *name = edge_name(w, node);

		end -= objgraph_escaped_len(name);
		objgraph_escape_into(end, name);
		node = w->origin[node].from;
		if (w->origin[node].via == OBJGRAPH_CHILD)
			*--end = '/';
	}
}

static const struct objgraph_slot *slot_of(const struct objgraph_walk *w, int32_t node)
{
	const struct objgraph_origin *o = &w->origin[node];

	return &w->graph->nodes[o->from].slots[o->index];
}

/* Length of any named node's path. */
static size_t path_len(const struct objgraph_walk *w, int32_t node)
{
	const struct objgraph_slot *s;

	if (w->origin[node].via != OBJGRAPH_SLOT)
		return tree_len(w, node);
	s = slot_of(w, node);
	return tree_len(w, s->original_variable_node_id) + strlen(SLOT_SEP) +
	       tree_len(w, w->origin[node].from) + 1 + objgraph_escaped_len(s->slot_name);
}

/* Write it at p; return the byte after it. */
static char *put_path(const struct objgraph_walk *w, int32_t node, char *p)
{
	const struct objgraph_slot *s;
	int32_t opt;

	if (w->origin[node].via != OBJGRAPH_SLOT) {
		p += tree_len(w, node);
		put_tree(w, node, p);
		return p;
	}
	s = slot_of(w, node);
	opt = w->origin[node].from;
	p += tree_len(w, s->original_variable_node_id);
	put_tree(w, s->original_variable_node_id, p);
	memcpy(p, SLOT_SEP, strlen(SLOT_SEP));
	p += strlen(SLOT_SEP);
	p += tree_len(w, opt);
	put_tree(w, opt, p);
	*p++ = '/';
	return objgraph_escape_into(p, s->slot_name);
}

static int check_node(const struct objgraph_walk *w, int32_t node, char *err, size_t errlen)
{
	if (node < 0 || (size_t)node >= w->graph->n_nodes)
		return objgraph_errf(err, errlen, -EINVAL,
				     "node %d is not in the graph (%zu nodes)", (int)node,
				     w->graph->n_nodes);
	if (w->origin[node].via == OBJGRAPH_UNREACHED)
		return objgraph_errf(err, errlen, -ENOENT,
				     "node %d is not reachable from the root, so it has no name",
				     (int)node);
	return 0;
}

int objgraph_path(const struct objgraph_walk *w, int32_t node, char **out, size_t *len, char *err,
		  size_t errlen)
{
	size_t n;
	char *p;
	int rc;

	rc = check_node(w, node, err, errlen);
	if (rc)
		return rc;
	n = path_len(w, node);
	p = malloc(n + 1);
	if (!p)
		return objgraph_errf(err, errlen, -ENOMEM, "out of memory");
	*put_path(w, node, p) = '\0';
	*out = p;
	if (len)
		*len = n;
	return 0;
}

/* checkpoint_key(): ".TENSORS" stands for "the object's own tensors". */
static const char *key_suffix(const char *attr_name)
{
	return strcmp(attr_name, TENSORS_NAME) ? attr_name : "";
}

int objgraph_key(const struct objgraph_walk *w, int32_t node, size_t attr, char **out, size_t *len,
		 char *err, size_t errlen)
{
	const char *suffix;
	size_t n;
	char *p, *q;
	int rc;

	rc = check_node(w, node, err, errlen);
	if (rc)
		return rc;
	if (attr >= w->graph->nodes[node].n_attrs)
		return objgraph_errf(err, errlen, -EINVAL,
				     "node %d has no attribute %zu (it has %zu)", (int)node, attr,
				     w->graph->nodes[node].n_attrs);
	suffix = key_suffix(w->graph->nodes[node].attrs[attr].name);
	n = path_len(w, node) + strlen(ATTR_SEP) + objgraph_escaped_len(suffix);
	p = malloc(n + 1);
	if (!p)
		return objgraph_errf(err, errlen, -ENOMEM, "out of memory");
	q = put_path(w, node, p);
	memcpy(q, ATTR_SEP, strlen(ATTR_SEP));
	q += strlen(ATTR_SEP);
	*objgraph_escape_into(q, suffix) = '\0';
	*out = p;
	if (len)
		*len = n;
	return 0;
}
