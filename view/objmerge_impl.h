/*
 * objmerge_impl.h - the object merge's parts shared inside view/: the
 * merged graph as objmerge.c builds it (struct objmerge, v->om), the
 * object paths and excludes of a source's graph (objpath.c), and what
 * objemit.c needs to number and write the new graph. Private to view/;
 * plan.c sees only the objmerge_* functions of view_impl.h.
 */
#ifndef CKPTFS_VIEW_OBJMERGE_IMPL_H
#define CKPTFS_VIEW_OBJMERGE_IMPL_H

#include "view/nametable.h"
#include "view/view_impl.h"

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

/* objmerge.c: "out of memory", at the mapping file; -ENOMEM. */
int om_oom(const struct view *v, char *err, size_t errlen);

/* objmerge.c: the edge target paths added from node `from` under name, or NULL. */
const struct medge *om_added_edge(const struct objmerge *om, int32_t from, const char *name);

/*
 * objmerge.c: the last of the building, once every map line is applied:
 * under `checkpoint = object-based` the tensors lines brought by name
 * become variable objects at the paths their names spell; then the slot
 * variables whose optimizer and variable both came along are included.
 */
int om_complete(struct view *v, char *err, size_t errlen);

/* objpath.c: the node at object path (len bytes, no trailing '/'; "" is the root), or -1. */
int32_t om_resolve_path(const struct objgraph *g, const char *path, size_t len);

/* objpath.c: whether an exclude line cuts edge c of node in source s; -ENOMEM. */
int om_edge_cut(const struct view *v, size_t s, int32_t node, size_t c);

/*
 * objpath.c: whether an exclude line of source s matches the path of slot
 * variable node (its source name, "<var>/.OPTIMIZER_SLOT/<optimizer>/<slot>");
 * -ENOMEM.
 */
int om_slot_cut(const struct view *v, size_t s, int32_t node);

/*
 * objpath.c: "did you mean": up to three of the source's object paths
 * closest to q (ql bytes), each shown with tail appended, into buf.
 */
void om_suggest_paths(const struct osrc *o, const char *q, size_t ql, const char *tail, char *buf,
		      size_t len);

#endif
