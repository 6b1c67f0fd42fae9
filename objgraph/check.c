/*
 * check.c - what makes a TrackableObjectGraph valid (the rules are
 * listed, with where they come from, at the top of objgraph.h).
 *
 * Everything here is linear in the graph's size or n log n (duplicate child
 * names are found by sorting), so a hostile graph cannot make the check
 * itself the problem.
 */
#include "objgraph/objgraph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "objgraph/internal.h"

/*
 * Strict UTF-8 as protobuf's parsers accept it for string fields: no
 * overlong forms, no surrogates, nothing above U+10FFFF.
 */
static int utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++, n, min, cp;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, min = 0x80, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, min = 0x800, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return 0;
		}
		for (; n; n--, s++) {
			if ((*s & 0xc0) != 0x80)
				return 0; /* also catches the terminating NUL */
			cp = cp << 6 | (*s & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

static int check_text(const char *s, size_t node, const char *what, size_t i, char *err,
		      size_t errlen)
{
	if (!s)
		return objgraph_errf(err, errlen, -EBADMSG, "node %zu: %s %zu has no text (NULL)",
				     node, what, i);
	if (!utf8_valid((const unsigned char *)s))
		return objgraph_errf(err, errlen, -EBADMSG, "node %zu: %s %zu is not valid UTF-8",
				     node, what, i);
	return 0;
}

static int check_id(const struct objgraph *g, int32_t id, size_t node, const char *what, size_t i,
		    char *err, size_t errlen)
{
	if (id < 0 || (size_t)id >= g->n_nodes)
		return objgraph_errf(err, errlen, -EBADMSG,
				     "node %zu: %s %zu refers to node %d, the graph has %zu nodes",
				     node, what, i, (int)id, g->n_nodes);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* names: room for n->n_children pointers. */
static int check_children(const struct objgraph *g, size_t i, const char **names, char *err,
			  size_t errlen)
{
	const struct objgraph_node *n = &g->nodes[i];
	int rc;

	for (size_t c = 0; c < n->n_children; c++) {
		rc = check_id(g, n->children[c].node_id, i, "child", c, err, errlen);
		if (!rc)
			rc = check_text(n->children[c].local_name, i, "child name", c, err, errlen);
		if (rc)
			return rc;
		names[c] = n->children[c].local_name;
	}
	if (n->n_children < 2)
		return 0;
	qsort(names, n->n_children, sizeof(*names), cmp_str);
	for (size_t c = 1; c < n->n_children; c++)
		if (!strcmp(names[c - 1], names[c]))
			return objgraph_errf(err, errlen, -EBADMSG,
					     "node %zu: two children are named '%s'", i, names[c]);
	return 0;
}

static int check_attrs(const struct objgraph_node *n, size_t i, char *err, size_t errlen)
{
	for (size_t a = 0; a < n->n_attrs; a++) {
		const struct objgraph_attr *at = &n->attrs[a];
		int rc;

		rc = check_text(at->name, i, "attribute name", a, err, errlen);
		if (!rc)
			rc = check_text(at->full_name, i, "attribute full_name", a, err, errlen);
		if (!rc)
			rc = check_text(at->checkpoint_key, i, "attribute checkpoint_key", a, err,
					errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_saver(const struct objgraph_node *n, size_t i, char *err, size_t errlen)
{
	int rc;

	if (!n->saver_name && !n->saver_object_name)
		return 0;
	rc = check_text(n->saver_name, i, "registered saver name", 0, err, errlen);
	if (!rc)
		rc = check_text(n->saver_object_name, i, "registered saver object_name", 0, err,
				errlen);
	return rc;
}

/*
 * seen[id]: bit 1 = some node's child, bit 2 = some slot's variable node.
 * A slot variable takes its name from its reference, so it must have no
 * other one (TensorFlow's saver raises "A slot variable was re-used as a
 * dependency" and names each slot once).
 */
static int check_slots(const struct objgraph *g, size_t i, unsigned char *seen, char *err,
		       size_t errlen)
{
	const struct objgraph_node *n = &g->nodes[i];

	for (size_t s = 0; s < n->n_slots; s++) {
		const struct objgraph_slot *sl = &n->slots[s];
		int32_t v = sl->slot_variable_node_id;
		int rc;

		rc = check_id(g, sl->original_variable_node_id, i,
			      "slot variable's original variable", s, err, errlen);
		if (!rc)
			rc = check_id(g, v, i, "slot variable", s, err, errlen);
		if (!rc)
			rc = check_text(sl->slot_name, i, "slot name", s, err, errlen);
		if (rc)
			return rc;
		if (v == 0 || (seen[v] & 1))
			return objgraph_errf(err, errlen, -EBADMSG,
					     "node %zu: slot variable %zu is node %d, which is %s",
					     i, s, (int)v, v == 0 ? "the root" : "also a child");
		if (seen[v] & 2)
			return objgraph_errf(
				err, errlen, -EBADMSG,
				"node %zu: slot variable %zu is node %d, the slot variable of another reference too",
				i, s, (int)v);
		seen[v] |= 2;
	}
	return 0;
}

static size_t max_children(const struct objgraph *g)
{
	size_t m = 0;

	for (size_t i = 0; i < g->n_nodes; i++)
		if (g->nodes[i].n_children > m)
			m = g->nodes[i].n_children;
	return m;
}

static int check_nodes(const struct objgraph *g, const char **names, unsigned char *seen, char *err,
		       size_t errlen)
{
	int rc;

	for (size_t i = 0; i < g->n_nodes; i++) {
		const struct objgraph_node *n = &g->nodes[i];

		rc = check_children(g, i, names, err, errlen);
		if (!rc)
			rc = check_attrs(n, i, err, errlen);
		if (!rc)
			rc = check_saver(n, i, err, errlen);
		if (rc)
			return rc;
		if (n->has_checkpoint_values < OBJGRAPH_UNSET || n->has_checkpoint_values > 1)
			return objgraph_errf(err, errlen, -EBADMSG,
					     "node %zu: has_checkpoint_values is %d", i,
					     n->has_checkpoint_values);
		for (size_t c = 0; c < n->n_children; c++)
			seen[n->children[c].node_id] |= 1;
	}
	for (size_t i = 0; i < g->n_nodes; i++) {
		rc = check_slots(g, i, seen, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int objgraph_check(const struct objgraph *g, char *err, size_t errlen)
{
	const char **names;
	unsigned char *seen;
	int rc;

	if (g->n_nodes == 0)
		return objgraph_errf(err, errlen, -EBADMSG,
				     "the object graph has no nodes (no root)");
	if (g->n_nodes > INT32_MAX)
		return objgraph_errf(err, errlen, -EINVAL,
				     "the object graph has %zu nodes, node ids are int32",
				     g->n_nodes);
	names = malloc((max_children(g) + 1) * sizeof(*names));
	seen = calloc(g->n_nodes, 1);
	if (!names || !seen)
		rc = objgraph_errf(err, errlen, -ENOMEM, "out of memory");
	else
		rc = check_nodes(g, names, seen, err, errlen);
	free(names);
	free(seen);
	return rc;
}
