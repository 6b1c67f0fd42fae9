/*
 * objpath.c - object paths in a TF2 source's graph, as mapping.md writes
 * them ("Object paths": local names escaped, '/' between them): the node
 * a path names, the path of an edge or a slot variable (what exclude
 * globs match), how many edges an exclude line cuts, and the paths a
 * mistyped one may have meant. The object merge (objmerge.c, objemit.c)
 * asks these of its sources.
 */
#include "view/objmerge_impl.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

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

int32_t om_resolve_path(const struct objgraph *g, const char *path, size_t len)
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

int om_edge_cut(const struct view *v, size_t s, int32_t node, size_t c)
{
	if (!has_excludes(v->m, s))
		return 0;
	return excluded(v->m, s, edge_path(&v->om->src[s], node, c));
}

int om_slot_cut(const struct view *v, size_t s, int32_t node)
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

void om_suggest_paths(const struct osrc *o, const char *q, size_t ql, const char *tail, char *buf,
		      size_t len)
{
	char best[3][256] = { "", "", "" };
	size_t bd[3] = { SIZE_MAX, SIZE_MAX, SIZE_MAX }, limit = ql / 3 > 2 ? ql / 3 : 2;

	for (size_t i = 0; i < o->g->n_nodes; i++) {
		char *p;
		size_t pl, d, worst = 0;

		if (o->w.origin[i].via != OBJGRAPH_CHILD ||
		    objgraph_path(&o->w, (int32_t)i, &p, &pl, NULL, 0))
			continue;
		d = pl < sizeof(best[0])
			    ? util_edit_distance(q, ql, p, pl, limit, UTIL_EDIT_FOLD_CASE)
			    : limit + 1;
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
