/*
 * cli_objects.c - `ckptfs ls --objects CHECKPOINT|MAPPING`: the object
 * tree of a TF2 checkpoint, or of the graph a merge carries, so that a
 * user can write object-path map lines (mapping.md, "Object paths")
 * without reading protobufs. One line per object path, in path order:
 *
 *   PATH/                      an object with children
 *   PATH\tDTYPE\tSHAPE         a variable (an object saving VARIABLE_VALUE)
 *   PATH/.ATTRIBUTES/NAME\t... any other saved tensor
 *   PATH[/]\t= FIRST[/]        an alias: the object FIRST, reached again
 *
 * and `ckptfs check`'s summary line of the graph a merge carries.
 */
#include "objgraph/objgraph.h"
#include "cli/cli.h"
#include "util/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/view.h"

struct line {
	char *path;  /* owned */
	char *info;  /* owned, may be NULL: dtype and shape, printable as is */
	char *alias; /* owned, may be NULL: the first path of an alias */
};

struct lines {
	struct line *l;
	size_t n, cap;
};

/*
 * Look a key up in the checkpoint or merge whose tree is printed: the
 * entry in *out, returning out, or NULL.
 */
typedef const struct bundle_entry *(*find_fn)(const void *ctx, const char *key,
					      struct bundle_entry *out);

static int add(struct lines *ls, char *path, char *info, char *alias)
{
	void *p = path ? util_grow(ls->l, &ls->cap, ls->n + 1, sizeof(*ls->l)) : NULL;

	if (!p) {
		free(path);
		free(info);
		free(alias);
		return -ENOMEM;
	}
	ls->l = p;
	ls->l[ls->n++] = (struct line){ path, info, alias };
	return 0;
}

static char *join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/* "DTYPE\t[d0,d1]" of the tensor key, or a note that it is missing. */
static char *tensor_info(find_fn find, const void *ctx, const char *key)
{
	struct bundle_entry found;
	const struct bundle_entry *e = find(ctx, key, &found);
	const char *dt = e ? bundle_dtype_name(e->dtype) : NULL;
	size_t n = 64 + (e ? (size_t)e->rank * 21 : 0);
	char *s = malloc(n);
	size_t used;

	if (!s)
		return NULL;
	if (!e) {
		strcpy(s, "(missing from the index)"); /* a damaged source */
		return s;
	}
	strcpy(s, dt ? dt : "unknown");
	used = strlen(s);
	s[used++] = '\t';
	s[used++] = '[';
	for (int d = 0; d < e->rank; d++)
		used += (size_t)snprintf(s + used, n - used, "%s%lld", d ? "," : "",
					 (long long)e->dims[d]);
	snprintf(s + used, n - used, "]");
	return s;
}

static int named(const struct objgraph_walk *w, size_t i)
{
	return w->origin[i].via != OBJGRAPH_UNREACHED;
}

/* The lines of node i: itself, its tensors, its aliases. */
static int node_lines(const struct objgraph_walk *w, size_t i, find_fn find, const void *ctx,
		      struct lines *ls)
{
	const struct objgraph_node *n = &w->graph->nodes[i];
	char *path;
	int rc = objgraph_path(w, (int32_t)i, &path, NULL, NULL, 0);

	if (rc)
		return rc;
	if (n->n_children && (rc = add(ls, join(path, "/", ""), NULL, NULL)))
		goto out;
	for (size_t a = 0; a < n->n_attrs; a++) {
		const struct objgraph_attr *at = &n->attrs[a];
		char *shown = strcmp(at->name, "VARIABLE_VALUE") ? objgraph_escape(at->name) : NULL;

		rc = add(ls, shown ? join(path, "/.ATTRIBUTES/", shown) : join(path, "", ""),
			 tensor_info(find, ctx, at->checkpoint_key), NULL);
		free(shown);
		if (rc)
			goto out;
	}
	if (!n->n_children && !n->n_attrs && i && (rc = add(ls, join(path, "", ""), NULL, NULL)))
		goto out;
	for (size_t c = 0; c < n->n_children; c++) {
		int32_t t = n->children[c].node_id;
		const struct objgraph_origin *o = &w->origin[t];
		char *name, *first = NULL;

		if (o->via == OBJGRAPH_CHILD && o->from == (int32_t)i && o->index == c)
			continue; /* its first path: listed as itself */
		name = objgraph_escape(n->children[c].local_name);
		if (!name || objgraph_path(w, t, &first, NULL, NULL, 0)) {
			free(name);
			rc = -ENOMEM;
			goto out;
		}
		{
			/* an object with children shows as PATH/, as where it is first */
			const char *tail = w->graph->nodes[t].n_children ? "/" : "";
			char *lhs = join(path, *path ? "/" : "", name),
			     *rhs = join(first, tail, "");

			rc = add(ls, lhs ? join(lhs, tail, "") : NULL, NULL, rhs);
			free(lhs);
			free(first);
		}
		free(name);
		if (rc)
			goto out;
	}
out:
	free(path);
	return rc;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->path, ((const struct line *)b)->path);
}

static int print_tree(const struct objgraph *g, find_fn find, const void *ctx)
{
	struct objgraph_walk w;
	struct lines ls = { 0 };
	char err[BUNDLE_ERR_MAX];
	int rc = objgraph_walk_init(&w, g, err, sizeof(err));

	if (rc) {
		cli_error("%s", err);
		return CLI_BAD_INPUT;
	}
	for (size_t i = 0; rc == 0 && i < g->n_nodes; i++)
		if (named(&w, i))
			rc = node_lines(&w, i, find, ctx, &ls);
	if (rc)
		cli_error("out of memory");
	qsort(ls.l, ls.n, sizeof(*ls.l), by_path);
	for (size_t i = 0; rc == 0 && i < ls.n; i++) {
		cli_put_name(stdout, *ls.l[i].path ? ls.l[i].path : "/",
			     *ls.l[i].path ? strlen(ls.l[i].path) : 1);
		if (ls.l[i].info)
			printf("\t%s", ls.l[i].info);
		if (ls.l[i].alias) {
			fputs("\t= ", stdout);
			cli_put_name(stdout, ls.l[i].alias, strlen(ls.l[i].alias));
		}
		putchar('\n');
	}
	for (size_t i = 0; i < ls.n; i++) {
		free(ls.l[i].path);
		free(ls.l[i].info);
		free(ls.l[i].alias);
	}
	free(ls.l);
	objgraph_walk_release(&w);
	return rc ? CLI_BAD_INPUT : fflush(stdout) == 0 ? CLI_OK : CLI_BAD_INPUT;
}

static const struct bundle_entry *find_in_reader(const void *ctx, const char *key,
						 struct bundle_entry *out)
{
	return bundle_lookup(ctx, key, strlen(key), out);
}

static const struct bundle_entry *find_in_view(const void *ctx, const char *key,
					       struct bundle_entry *out)
{
	const struct view *v = ctx;
	size_t lo = 0, hi = view_num_tensors(v), len = strlen(key);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct view_tensor t;
		int c;

		view_tensor_at(v, mid, &t);
		c = bundle_key_cmp(t.name, t.name_len, key, len);
		if (c == 0) {
			*out = t.source_entry; /* same dtype and shape, owned by v */
			return out;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int objects_of_checkpoint(const char *path)
{
	struct bundle_reader *r;
	struct objgraph *g;
	char err[BUNDLE_ERR_MAX];
	int rc;

	if (cli_open_checkpoint(path, &r))
		return CLI_BAD_INPUT;
	rc = objgraph_read(r, &g, err, sizeof(err));
	if (rc == -ENOENT)
		cli_error("'%s' is a name-based (TF1) checkpoint: it has no object graph",
			  bundle_prefix(r));
	else if (rc)
		cli_error("%s", err);
	else
		rc = print_tree(g, find_in_reader, r);
	if (rc == 0)
		objgraph_free(g);
	cli_close_checkpoint(r);
	return rc ? CLI_BAD_INPUT : CLI_OK;
}

static int objects_of_mapping(const char *path)
{
	const struct view_options opt = { .layout = -1 };
	struct mapping *m;
	struct view *v;
	struct objgraph *g;
	char err[BUNDLE_ERR_MAX];
	int rc;

	if (cli_open_view(path, &opt, &m, &v))
		return CLI_BAD_INPUT;
	rc = view_object_graph(v, &g, NULL, err, sizeof(err));
	if (rc == -ENOENT)
		cli_error(
			"'%s' merges by name: the merged checkpoint has no object graph (add 'checkpoint = object-based' to give it one)",
			path);
	else if (rc)
		cli_error("%s", err);
	else {
		rc = print_tree(g, find_in_view, v);
		objgraph_free(g);
	}
	view_free(v);
	mapping_free(m);
	return rc ? CLI_BAD_INPUT : CLI_OK;
}

int cli_ls_objects(const char *path)
{
	return cli_is_mapping(path) ? objects_of_mapping(path) : objects_of_checkpoint(path);
}

void cli_print_graph_summary(const struct view *v)
{
	struct objgraph *g;
	size_t vars = 0;
	int rewritten;

	if (view_object_graph(v, &g, &rewritten, NULL, 0))
		return;
	for (size_t i = 0; i < g->n_nodes; i++)
		vars += g->nodes[i].n_attrs;
	printf("object graph: %zu objects, %zu saved tensors (%s)\n", g->n_nodes, vars,
	       rewritten ? "rewritten for the merge" : "the source's own, kept");
	objgraph_free(g);
}
