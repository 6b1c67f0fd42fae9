/*
 * parse.c - serialized TrackableObjectGraph bytes to a struct objgraph
 * (objgraph.h), by a decoder of the protobuf wire format written for this
 * one schema (proto/trackable_object_graph.proto), in two passes:
 *
 *  1. survey: check the wire format and count what the graph holds (nodes,
 *     child edges, attributes, slot references, string bytes) and what the
 *     schema does not know; nothing is allocated. From the counts comes
 *     the memory the graph takes once parsed, checked and walked
 *     (objgraph_parse_memory), which must stay within
 *     OBJGRAPH_MEMORY_PER_BYTE bytes per byte of input: a graph of empty
 *     nodes (two bytes each on the wire, 72 in memory) is refused here,
 *     before anything is expanded.
 *  2. fill: one allocation holds the struct, the node array, every node's
 *     child, attribute and slot arrays (aligned), then every string; a
 *     second pass over the bytes fills it.
 *
 * The decoding is protobuf's: a repeated field's occurrences append, a
 * scalar or string field given twice keeps the last, a sub-message given
 * twice (registered_saver, has_checkpoint_values) is merged field by
 * field, int32 keeps the low 32 bits of its varint (a negative id is ten
 * bytes, sign-extended), a bool is any non-zero varint. A known field with
 * the wrong wire type, a truncated or overlong varint, a length past its
 * message, field number 0 or a group is not a graph; a field the schema
 * does not know is kept track of, and refused (-ENOTSUP) as rewriting
 * would drop it.
 */
#include "objgraph/objgraph.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "objgraph/internal.h"

enum wire {
	WIRE_VARINT = 0,
	WIRE_I64 = 1,
	WIRE_LEN = 2,
	WIRE_I32 = 5,
};

/* Field numbers of proto/trackable_object_graph.proto. */
enum {
	GRAPH_NODES = 1,
	NODE_CHILDREN = 1,
	NODE_ATTRIBUTES = 2,
	NODE_SLOTS = 3,
	NODE_SAVER = 4,
	NODE_HAS_VALUES = 5,
	CHILD_NODE_ID = 1,
	CHILD_LOCAL_NAME = 2,
	ATTR_NAME = 1,
	ATTR_FULL_NAME = 2,
	ATTR_CHECKPOINT_KEY = 3,
	ATTR_OPTIONAL_RESTORE = 4,
	SLOT_ORIGINAL = 1,
	SLOT_NAME = 2,
	SLOT_VARIABLE = 3,
	SAVER_NAME = 1,
	SAVER_OBJECT_NAME = 2,
	BOOL_VALUE = 1,
};

/* One field as read off the wire. */
struct field {
	uint32_t num;
	int wire;
	uint64_t v;        /* a varint's value */
	const uint8_t *at; /* a length-delimited field's bytes */
	size_t len;
};

/* A message's bytes, read field by field. */
struct msg {
	const uint8_t *p, *end;
};

static int read_varint(struct msg *m, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 10 && m->p < m->end; i++) {
		uint8_t b = *m->p++;

		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1; /* truncated, or over ten bytes */
}

/* The next field of m: 1, 0 at its end, -1 if the bytes are not a message. */
static int next_field(struct msg *m, struct field *f)
{
	uint64_t key;

	if (m->p == m->end)
		return 0;
	if (read_varint(m, &key) || key > UINT32_MAX || key >> 3 == 0)
		return -1;
	/* every field written, whatever its wire type: the callers read len
	 * and at only for WIRE_LEN, which an optimizer cannot always see */
	*f = (struct field){ .num = (uint32_t)(key >> 3), .wire = (int)(key & 7) };
	switch (f->wire) {
	case WIRE_VARINT: return read_varint(m, &f->v) ? -1 : 1;
	case WIRE_I64:
	case WIRE_I32: {
		size_t n = f->wire == WIRE_I64 ? 8 : 4;

		if ((size_t)(m->end - m->p) < n)
			return -1;
		m->p += n;
		return 1;
	}
	case WIRE_LEN:
		if (read_varint(m, &f->v) || f->v > (uint64_t)(m->end - m->p))
			return -1;
		f->at = m->p;
		f->len = (size_t)f->v;
		m->p += f->len;
		return 1;
	default: /* groups (3, 4) and the unused 6, 7 */ return -1;
	}
}

/* The message a LEN field holds; an empty one for any other field (at is
 * NULL there, and NULL + 0 is undefined). */
static struct msg sub(const struct field *f)
{
	return f->at ? (struct msg){ f->at, f->at + f->len } : (struct msg){ NULL, NULL };
}

/* ------------------------------------------------------------ survey */

/* What a message (or the whole graph) holds. */
struct count {
	size_t nodes, children, attrs, slots;
	size_t arrays;  /* bytes of the nodes' arrays, each aligned */
	size_t strings; /* bytes of the string region: every occurrence + NUL */
	int unknown;    /* a field the schema does not know */
};

#define ALIGN alignof(max_align_t)

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/*
 * A message of string (LEN) fields in lens_mask and varint fields in
 * ints_mask (bit = field number): checks it and adds its strings to c.
 */
static int survey_leaf(const struct field *f, unsigned lens_mask, unsigned ints_mask,
		       struct count *c)
{
	struct msg m = sub(f);
	struct field g;
	int rc;

	if (f->wire != WIRE_LEN)
		return -1;
	while ((rc = next_field(&m, &g)) == 1) {
		int known_len = g.num < 32 && (lens_mask >> g.num & 1);
		int known_int = g.num < 32 && (ints_mask >> g.num & 1);

		if ((known_len && g.wire != WIRE_LEN) || (known_int && g.wire != WIRE_VARINT))
			return -1;
		if (known_len)
			c->strings += g.len + 1;
		c->unknown |= !known_len && !known_int;
	}
	return rc;
}

#define BIT(n) (1u << (n))

/* One node's fields; its counts are added to c. */
static int survey_node(const struct field *f, struct count *c)
{
	struct msg m = sub(f);
	struct field g;
	size_t children = 0, attrs = 0, slots = 0;
	int rc = f->wire == WIRE_LEN ? 1 : -1;

	while (rc == 1 && (rc = next_field(&m, &g)) == 1) {
		switch (g.num) {
		case NODE_CHILDREN:
			children++;
			rc = survey_leaf(&g, BIT(CHILD_LOCAL_NAME), BIT(CHILD_NODE_ID), c);
			break;
		case NODE_ATTRIBUTES:
			attrs++;
			rc = survey_leaf(
				&g, BIT(ATTR_NAME) | BIT(ATTR_FULL_NAME) | BIT(ATTR_CHECKPOINT_KEY),
				BIT(ATTR_OPTIONAL_RESTORE), c);
			break;
		case NODE_SLOTS:
			slots++;
			rc = survey_leaf(&g, BIT(SLOT_NAME),
					 BIT(SLOT_ORIGINAL) | BIT(SLOT_VARIABLE), c);
			break;
		case NODE_SAVER:
			rc = survey_leaf(&g, BIT(SAVER_NAME) | BIT(SAVER_OBJECT_NAME), 0, c);
			break;
		case NODE_HAS_VALUES: rc = survey_leaf(&g, 0, BIT(BOOL_VALUE), c); break;
		default: c->unknown = 1; break;
		}
		rc = rc < 0 ? -1 : 1;
	}
	if (rc < 0)
		return -1;
	c->nodes++;
	c->children += children;
	c->attrs += attrs;
	c->slots += slots;
	c->arrays += round_up(children * sizeof(struct objgraph_child)) +
		     round_up(attrs * sizeof(struct objgraph_attr)) +
		     round_up(slots * sizeof(struct objgraph_slot));
	return 0;
}

/*
 * The whole graph: 0 with *c filled, -1 if the bytes are not a graph.
 * *unknown_node says where the schema met a field it does not know:
 * (size_t)-1 for the graph's own fields (reported first), else the first
 * such node.
 */
static int survey(const uint8_t *buf, size_t len, struct count *c, size_t *unknown_node)
{
	struct msg m = { buf, buf + len };
	struct field f;
	size_t first = 0;
	int rc, in_graph = 0, in_node = 0;

	*c = (struct count){ 0 };
	while ((rc = next_field(&m, &f)) == 1) {
		if (f.num != GRAPH_NODES) {
			in_graph = 1;
			continue;
		}
		if (survey_node(&f, c))
			return -1;
		if (c->unknown && !in_node) {
			in_node = 1;
			first = c->nodes - 1;
		}
	}
	c->unknown = in_graph || in_node;
	*unknown_node = in_graph ? (size_t)-1 : first;
	return rc;
}

/* Bytes of the one allocation objgraph_parse makes for c. */
static size_t block_size(const struct count *c)
{
	return round_up(sizeof(struct objgraph)) +
	       round_up(c->nodes * sizeof(struct objgraph_node)) + c->arrays + c->strings;
}

/* What a graph of counts c takes in memory parsed, checked and walked. */
static uint64_t memory(const struct count *c)
{
	return (uint64_t)block_size(c) + (uint64_t)c->nodes * OBJGRAPH_WALK_BYTES_PER_NODE +
	       (uint64_t)c->children * OBJGRAPH_CHECK_BYTES_PER_CHILD;
}

/* objgraph_check's and objgraph_walk_init's scratch fits what is counted. */
static_assert(sizeof(struct objgraph_origin) + sizeof(int32_t) + 1 <= OBJGRAPH_WALK_BYTES_PER_NODE,
	      "the walk's memory per node");
static_assert(sizeof(const char *) <= OBJGRAPH_CHECK_BYTES_PER_CHILD,
	      "the check's memory per child");

/* -------------------------------------------------------------- fill */

/* The single allocation being filled: arrays first (aligned), then strings. */
struct block {
	char *arr; /* next free byte of the array region */
	char *str; /* next free byte of the string region */
	int nul;   /* a string the graph keeps holds a NUL */
};

/*
 * What text() returns for a string holding a NUL: one given again later
 * is replaced (the last occurrence counts), so only a kept one is an
 * error (found by node_has_nul).
 */
static const char has_nul[] = "";

static void *take(struct block *b, size_t n, size_t size)
{
	void *p = b->arr;

	b->arr += round_up(n * size);
	return p;
}

static const char *text(struct block *b, const struct field *f)
{
	char *p = b->str;

	if (f->len)
		memcpy(p, f->at, f->len);
	p[f->len] = '\0';
	b->str += f->len + 1;
	return f->len && memchr(f->at, 0, f->len) ? has_nul : p;
}

static int node_has_nul(const struct objgraph_node *n)
{
	for (size_t i = 0; i < n->n_children; i++)
		if (n->children[i].local_name == has_nul)
			return 1;
	for (size_t i = 0; i < n->n_attrs; i++)
		if (n->attrs[i].name == has_nul || n->attrs[i].full_name == has_nul ||
		    n->attrs[i].checkpoint_key == has_nul)
			return 1;
	for (size_t i = 0; i < n->n_slots; i++)
		if (n->slots[i].slot_name == has_nul)
			return 1;
	return n->saver_name == has_nul || n->saver_object_name == has_nul;
}

/* The survey checked every wire type: only the known fields matter here. */
static void fill_child(struct block *b, const struct field *f, struct objgraph_child *c)
{
	struct msg m = sub(f);
	struct field g;

	*c = (struct objgraph_child){ 0, "" };
	while (next_field(&m, &g) == 1)
		if (g.num == CHILD_NODE_ID)
			c->node_id = (int32_t)(uint32_t)g.v;
		else if (g.num == CHILD_LOCAL_NAME)
			c->local_name = text(b, &g);
}

static void fill_attr(struct block *b, const struct field *f, struct objgraph_attr *a)
{
	struct msg m = sub(f);
	struct field g;

	*a = (struct objgraph_attr){ "", "", "", 0 };
	while (next_field(&m, &g) == 1)
		if (g.num == ATTR_NAME)
			a->name = text(b, &g);
		else if (g.num == ATTR_FULL_NAME)
			a->full_name = text(b, &g);
		else if (g.num == ATTR_CHECKPOINT_KEY)
			a->checkpoint_key = text(b, &g);
		else if (g.num == ATTR_OPTIONAL_RESTORE)
			a->optional_restore = g.v != 0;
}

static void fill_slot(struct block *b, const struct field *f, struct objgraph_slot *s)
{
	struct msg m = sub(f);
	struct field g;

	*s = (struct objgraph_slot){ 0, "", 0 };
	while (next_field(&m, &g) == 1)
		if (g.num == SLOT_ORIGINAL)
			s->original_variable_node_id = (int32_t)(uint32_t)g.v;
		else if (g.num == SLOT_NAME)
			s->slot_name = text(b, &g);
		else if (g.num == SLOT_VARIABLE)
			s->slot_variable_node_id = (int32_t)(uint32_t)g.v;
}

/* registered_saver, merged into what an earlier occurrence set. */
static void fill_saver(struct block *b, const struct field *f, struct objgraph_node *n)
{
	struct msg m = sub(f);
	struct field g;

	if (!n->saver_name)
		n->saver_name = n->saver_object_name = "";
	while (next_field(&m, &g) == 1)
		if (g.num == SAVER_NAME)
			n->saver_name = text(b, &g);
		else if (g.num == SAVER_OBJECT_NAME)
			n->saver_object_name = text(b, &g);
}

static void fill_has_values(const struct field *f, struct objgraph_node *n)
{
	struct msg m = sub(f);
	struct field g;

	if (n->has_checkpoint_values == OBJGRAPH_UNSET)
		n->has_checkpoint_values = 0;
	while (next_field(&m, &g) == 1)
		if (g.num == BOOL_VALUE)
			n->has_checkpoint_values = g.v != 0;
}

static void fill_node(struct block *b, const struct field *f, struct objgraph_node *n)
{
	struct count c = { 0 };
	struct msg m = sub(f);
	struct field g;

	survey_node(f, &c); /* this node's counts, to size its arrays */
	*n = (struct objgraph_node){ .has_checkpoint_values = OBJGRAPH_UNSET };
	n->children = take(b, c.children, sizeof(*n->children));
	n->attrs = take(b, c.attrs, sizeof(*n->attrs));
	n->slots = take(b, c.slots, sizeof(*n->slots));
	while (next_field(&m, &g) == 1) {
		switch (g.num) {
		case NODE_CHILDREN: fill_child(b, &g, &n->children[n->n_children++]); break;
		case NODE_ATTRIBUTES: fill_attr(b, &g, &n->attrs[n->n_attrs++]); break;
		case NODE_SLOTS: fill_slot(b, &g, &n->slots[n->n_slots++]); break;
		case NODE_SAVER: fill_saver(b, &g, n); break;
		case NODE_HAS_VALUES: fill_has_values(&g, n); break;
		}
	}
}

/* The graph surveyed as c, in one allocation; *bad_node: where a NUL is. */
static int fill(const uint8_t *buf, size_t len, const struct count *c, struct objgraph **out,
		size_t *bad_node)
{
	size_t size = block_size(c), i = 0;
	struct msg m = { buf, buf + len };
	struct block b = { 0 };
	struct field f;
	struct objgraph *g = malloc(size);

	if (!g)
		return -ENOMEM;
	b.arr = (char *)g;
	b.str = b.arr + size - c->strings;
	take(&b, 1, sizeof(*g));
	g->n_nodes = c->nodes;
	g->nodes = take(&b, c->nodes, sizeof(*g->nodes));
	while (!b.nul && next_field(&m, &f) == 1) {
		if (f.num != GRAPH_NODES)
			continue;
		*bad_node = i;
		fill_node(&b, &f, &g->nodes[i]);
		b.nul = node_has_nul(&g->nodes[i++]);
	}
	assert(b.nul || (i == c->nodes && b.arr == (char *)g + size - c->strings &&
			 b.str == (char *)g + size));
	if (b.nul) {
		free(g);
		return -EBADMSG;
	}
	*out = g;
	return 0;
}

/* ------------------------------------------------------------- parse */

static int too_big(const char *name, size_t len, const struct count *c, uint64_t need, char *err,
		   size_t errlen)
{
	return objgraph_errf(
		err, errlen, -EFBIG,
		"'%s': object graph refused: its %zu bytes hold %zu nodes, %zu child edges, %zu attributes and %zu slot references, which would take %llu bytes of memory, more than %d per byte of graph",
		name, len, c->nodes, c->children, c->attrs, c->slots, (unsigned long long)need,
		OBJGRAPH_MEMORY_PER_BYTE);
}

int objgraph_parse(const char *name, const uint8_t *buf, size_t len, struct objgraph **out,
		   char *err, size_t errlen)
{
	char msg[BUNDLE_ERR_MAX];
	struct objgraph *g = NULL;
	struct count c;
	size_t node = 0;
	uint64_t need;
	int rc;

	if (len > OBJGRAPH_MAX_BYTES)
		return objgraph_errf(
			err, errlen, -EINVAL,
			"'%s': object graph of %zu bytes is over protobuf's 2 GiB limit", name,
			len);
	if (survey(buf, len, &c, &node))
		return objgraph_errf(
			err, errlen, -EBADMSG,
			"'%s': the object graph is not a serialized TrackableObjectGraph", name);
	if (c.unknown && node == (size_t)-1)
		return objgraph_errf(err, errlen, -ENOTSUP,
				     "'%s': the object graph has fields this version does not know",
				     name);
	if (c.unknown)
		return objgraph_errf(
			err, errlen, -ENOTSUP,
			"'%s': node %zu of the object graph has fields this version does not know",
			name, node);
	need = memory(&c);
	if (need > (uint64_t)len * OBJGRAPH_MEMORY_PER_BYTE + OBJGRAPH_MEMORY_SLACK)
		return too_big(name, len, &c, need, err, errlen);
	rc = fill(buf, len, &c, &g, &node);
	if (rc == -ENOMEM)
		return objgraph_errf(err, errlen, rc, "out of memory");
	if (rc)
		return objgraph_errf(
			err, errlen, rc,
			"'%s': node %zu of the object graph has a NUL byte in a name or key", name,
			node);
	rc = objgraph_check(g, msg, sizeof(msg));
	if (rc) {
		free(g);
		return objgraph_errf(err, errlen, rc, "'%s': %s", name, msg);
	}
	*out = g;
	return 0;
}

void objgraph_free(struct objgraph *g) { free(g); }
