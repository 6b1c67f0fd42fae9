/*
 * parse.c - serialized TrackableObjectGraph bytes to a struct
 * objgraph (objgraph.h).
 *
 * protobuf-c unpacks the bytes; the result is copied into one allocation
 * (the struct, then the node, child, attribute and slot arrays, then the
 * strings) so the caller frees one pointer and no protobuf-c type escapes
 * this file. protobuf-c allocates at most a constant factor more than the
 * input (every element it creates took at least two input bytes), and the
 * copy is smaller than what it copies, so memory is linear in the input
 * (and, with at most OBJGRAPH_MAX_BYTES of input, its size cannot overflow
 * a 64-bit size_t).
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
#include "trackable_object_graph.pb-c.h"

typedef Tensorflow__TrackableObjectGraph GraphProto;
typedef Tensorflow__TrackableObjectGraph__TrackableObject NodeProto;
typedef Tensorflow__TrackableObjectGraph__TrackableObject__ObjectReference ChildProto;
typedef Tensorflow__TrackableObjectGraph__TrackableObject__SerializedTensor AttrProto;
typedef Tensorflow__TrackableObjectGraph__TrackableObject__SlotVariableReference SlotProto;

/*
 * The single allocation being filled: every array first (aligned), then
 * every string, so strings of odd lengths never misalign an array.
 */
struct block {
	char *arr; /* next free byte of the array region */
	char *str; /* next free byte of the string region */
	int err;   /* -EBADMSG once a string held a NUL */
};

#define ALIGN alignof(max_align_t)

static size_t round_up(size_t n)
{
	return (n + ALIGN - 1) / ALIGN * ALIGN;
}

static void *take(struct block *b, size_t n, size_t size)
{
	void *p = b->arr;

	b->arr += round_up(n * size);
	return p;
}

static const char *text(struct block *b, ProtobufCBinaryData d)
{
	char *p = b->str;

	if (d.len && memchr(d.data, 0, d.len))
		b->err = -EBADMSG;
	if (d.len)
		memcpy(p, d.data, d.len);
	p[d.len] = '\0';
	b->str += d.len + 1;
	return p;
}

static size_t node_arrays(const NodeProto *n)
{
	return round_up(n->n_children * sizeof(struct objgraph_child)) +
	       round_up(n->n_attributes * sizeof(struct objgraph_attr)) +
	       round_up(n->n_slot_variables * sizeof(struct objgraph_slot));
}

static size_t node_strings(const NodeProto *n)
{
	size_t s = 0;

	for (size_t i = 0; i < n->n_children; i++)
		s += n->children[i]->local_name.len + 1;
	for (size_t i = 0; i < n->n_attributes; i++)
		s += n->attributes[i]->name.len + 1 +
		     n->attributes[i]->full_name.len + 1 +
		     n->attributes[i]->checkpoint_key.len + 1;
	for (size_t i = 0; i < n->n_slot_variables; i++)
		s += n->slot_variables[i]->slot_name.len + 1;
	if (n->registered_saver)
		s += n->registered_saver->name.len + 1 +
		     n->registered_saver->object_name.len + 1;
	return s;
}

static void fill_node(struct block *b, const NodeProto *p,
		      struct objgraph_node *n)
{
	n->n_children = p->n_children;
	n->children = take(b, p->n_children, sizeof(*n->children));
	n->n_attrs = p->n_attributes;
	n->attrs = take(b, p->n_attributes, sizeof(*n->attrs));
	n->n_slots = p->n_slot_variables;
	n->slots = take(b, p->n_slot_variables, sizeof(*n->slots));
	for (size_t i = 0; i < p->n_children; i++) {
		n->children[i].node_id = p->children[i]->node_id;
		n->children[i].local_name = text(b, p->children[i]->local_name);
	}
	for (size_t i = 0; i < p->n_attributes; i++) {
		const AttrProto *a = p->attributes[i];

		n->attrs[i].name = text(b, a->name);
		n->attrs[i].full_name = text(b, a->full_name);
		n->attrs[i].checkpoint_key = text(b, a->checkpoint_key);
		n->attrs[i].optional_restore = !!a->optional_restore;
	}
	for (size_t i = 0; i < p->n_slot_variables; i++) {
		const SlotProto *s = p->slot_variables[i];

		n->slots[i].original_variable_node_id = s->original_variable_node_id;
		n->slots[i].slot_name = text(b, s->slot_name);
		n->slots[i].slot_variable_node_id = s->slot_variable_node_id;
	}
	n->saver_name = n->saver_object_name = NULL;
	if (p->registered_saver) {
		n->saver_name = text(b, p->registered_saver->name);
		n->saver_object_name = text(b, p->registered_saver->object_name);
	}
	n->has_checkpoint_values = p->has_checkpoint_values ? !!p->has_checkpoint_values->value : OBJGRAPH_UNSET;
}

static struct objgraph *copy_graph(const GraphProto *p, int *rc,
				   size_t *bad_node)
{
	size_t arrays = round_up(sizeof(struct objgraph)) +
			round_up(p->n_nodes * sizeof(struct objgraph_node));
	size_t strings = 0;
	struct block b = { 0 };
	struct objgraph *g;

	for (size_t i = 0; i < p->n_nodes; i++) {
		arrays += node_arrays(p->nodes[i]);
		strings += node_strings(p->nodes[i]);
	}
	g = malloc(arrays + strings);
	if (!g) {
		*rc = -ENOMEM;
		return NULL;
	}
	b.arr = (char *)g;
	b.str = b.arr + arrays;
	take(&b, 1, sizeof(*g));
	g->n_nodes = p->n_nodes;
	g->nodes = take(&b, p->n_nodes, sizeof(*g->nodes));
	for (size_t i = 0; i < p->n_nodes && !b.err; i++) {
		fill_node(&b, p->nodes[i], &g->nodes[i]);
		*bad_node = i;
	}
	assert(b.err || (b.arr == (char *)g + arrays &&
			 b.str == (char *)g + arrays + strings));
	*rc = b.err;
	if (b.err) {
		free(g);
		return NULL;
	}
	return g;
}

/* Fields this schema does not know (a newer TensorFlow's) would be lost. */
static int has_unknown(const ProtobufCMessage *m)
{
	return m && m->n_unknown_fields;
}

static int node_has_unknown(const NodeProto *n)
{
	if (has_unknown(&n->base) ||
	    (n->registered_saver && has_unknown(&n->registered_saver->base)) ||
	    (n->has_checkpoint_values &&
	     has_unknown(&n->has_checkpoint_values->base)))
		return 1;
	for (size_t i = 0; i < n->n_children; i++)
		if (has_unknown(&n->children[i]->base))
			return 1;
	for (size_t i = 0; i < n->n_attributes; i++)
		if (has_unknown(&n->attributes[i]->base))
			return 1;
	for (size_t i = 0; i < n->n_slot_variables; i++)
		if (has_unknown(&n->slot_variables[i]->base))
			return 1;
	return 0;
}

static int find_unknown(const GraphProto *p, size_t *node)
{
	if (has_unknown(&p->base)) {
		*node = (size_t)-1;
		return 1;
	}
	for (size_t i = 0; i < p->n_nodes; i++)
		if (node_has_unknown(p->nodes[i])) {
			*node = i;
			return 1;
		}
	return 0;
}

static int convert(const char *name, const GraphProto *p,
		   struct objgraph **out, char *err, size_t errlen)
{
	size_t node = 0;
	int rc = 0;

	if (find_unknown(p, &node)) {
		if (node == (size_t)-1)
			return objgraph_errf(err, errlen, -ENOTSUP,
					     "'%s': the object graph has fields this version does not know",
					     name);
		return objgraph_errf(err, errlen, -ENOTSUP,
				     "'%s': node %zu of the object graph has fields this version does not know",
				     name, node);
	}
	*out = copy_graph(p, &rc, &node);
	if (rc == -ENOMEM)
		return objgraph_errf(err, errlen, rc, "out of memory");
	if (rc)
		return objgraph_errf(err, errlen, rc,
				     "'%s': node %zu of the object graph has a NUL byte in a name or key",
				     name, node);
	return 0;
}

int objgraph_parse(const char *name, const uint8_t *buf, size_t len,
		   struct objgraph **out, char *err, size_t errlen)
{
	char msg[BUNDLE_ERR_MAX];
	struct objgraph *g = NULL;
	GraphProto *p;
	int rc;

	if (len > OBJGRAPH_MAX_BYTES)
		return objgraph_errf(err, errlen, -EINVAL,
				     "'%s': object graph of %zu bytes is over protobuf's 2 GiB limit",
				     name, len);
	p = tensorflow__trackable_object_graph__unpack(NULL, len, buf);
	if (!p)
		return objgraph_errf(err, errlen, -EBADMSG,
				     "'%s': the object graph is not a serialized TrackableObjectGraph",
				     name);
	rc = convert(name, p, &g, err, errlen);
	tensorflow__trackable_object_graph__free_unpacked(p, NULL);
	if (rc)
		return rc;
	rc = objgraph_check(g, msg, sizeof(msg));
	if (rc) {
		free(g);
		return objgraph_errf(err, errlen, rc, "'%s': %s", name, msg);
	}
	*out = g;
	return 0;
}

void objgraph_free(struct objgraph *g)
{
	free(g);
}
