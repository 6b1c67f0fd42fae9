/*
 * objgraph_pack.c - a struct objgraph to TrackableObjectGraph bytes.
 *
 * The graph is turned back into protobuf-c messages pointing at the
 * graph's own strings (nothing is copied) and packed. protobuf-c writes
 * fields in field-number order, leaves out proto3 scalars and bytes equal
 * to their default, and writes a set sub-message even when it is empty
 * (registered_saver with empty names, a has_checkpoint_values of false is
 * "2a 00"), as TensorFlow's C++ serializer does: that is what makes a
 * parsed TensorFlow graph serialize to the same bytes.
 */
#include "bundle/objgraph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/internal.h"
#include "trackable_object_graph.pb-c.h"

typedef Tensorflow__TrackableObjectGraph GraphProto;
typedef Tensorflow__TrackableObjectGraph__TrackableObject NodeProto;
typedef Tensorflow__TrackableObjectGraph__TrackableObject__ObjectReference ChildProto;
typedef Tensorflow__TrackableObjectGraph__TrackableObject__SerializedTensor AttrProto;
typedef Tensorflow__TrackableObjectGraph__TrackableObject__SlotVariableReference SlotProto;
typedef Tensorflow__RegisteredSaver SaverProto;
typedef Tensorflow__TrackableBoolValue BoolProto;

/*
 * The messages of a whole graph, one array per message type (a message
 * and the pointer protobuf-c wants to it), each array filled in order.
 */
struct scratch {
	NodeProto *nodes, **nodep;
	ChildProto *children, **childp;
	AttrProto *attrs, **attrp;
	SlotProto *slots, **slotp;
	SaverProto *savers;
	BoolProto *bools;
};

static void scratch_release(struct scratch *s)
{
	free(s->nodes);
	free(s->nodep);
	free(s->children);
	free(s->childp);
	free(s->attrs);
	free(s->attrp);
	free(s->slots);
	free(s->slotp);
	free(s->savers);
	free(s->bools);
}

/* +1: a graph may have no children (etc.) at all, and malloc(0) may be NULL. */
static int scratch_alloc(struct scratch *s, const struct objgraph *g)
{
	size_t nc = 0, na = 0, ns = 0, n = g->n_nodes;

	for (size_t i = 0; i < n; i++) {
		nc += g->nodes[i].n_children;
		na += g->nodes[i].n_attrs;
		ns += g->nodes[i].n_slots;
	}
	s->nodes = calloc(n + 1, sizeof(*s->nodes));
	s->nodep = calloc(n + 1, sizeof(*s->nodep));
	s->children = calloc(nc + 1, sizeof(*s->children));
	s->childp = calloc(nc + 1, sizeof(*s->childp));
	s->attrs = calloc(na + 1, sizeof(*s->attrs));
	s->attrp = calloc(na + 1, sizeof(*s->attrp));
	s->slots = calloc(ns + 1, sizeof(*s->slots));
	s->slotp = calloc(ns + 1, sizeof(*s->slotp));
	s->savers = calloc(n + 1, sizeof(*s->savers));
	s->bools = calloc(n + 1, sizeof(*s->bools));
	if (!s->nodes || !s->nodep || !s->children || !s->childp ||
	    !s->attrs || !s->attrp || !s->slots || !s->slotp || !s->savers ||
	    !s->bools)
		return -ENOMEM;
	return 0;
}

/* protobuf-c only reads through it; the cast drops const, not a write. */
static ProtobufCBinaryData bin(const char *str)
{
	ProtobufCBinaryData d = { strlen(str), (uint8_t *)str };

	return d;
}

/* Cursors into the scratch arrays while the nodes are converted. */
struct fill {
	size_t child, attr, slot;
};

static void fill_lists(struct scratch *s, struct fill *f,
		       const struct objgraph_node *n, NodeProto *p)
{
	p->n_children = n->n_children;
	p->children = s->childp + f->child;
	for (size_t i = 0; i < n->n_children; i++, f->child++) {
		ChildProto *c = &s->children[f->child];

		tensorflow__trackable_object_graph__trackable_object__object_reference__init(c);
		c->node_id = n->children[i].node_id;
		c->local_name = bin(n->children[i].local_name);
		s->childp[f->child] = c;
	}
	p->n_attributes = n->n_attrs;
	p->attributes = s->attrp + f->attr;
	for (size_t i = 0; i < n->n_attrs; i++, f->attr++) {
		AttrProto *a = &s->attrs[f->attr];

		tensorflow__trackable_object_graph__trackable_object__serialized_tensor__init(a);
		a->name = bin(n->attrs[i].name);
		a->full_name = bin(n->attrs[i].full_name);
		a->checkpoint_key = bin(n->attrs[i].checkpoint_key);
		a->optional_restore = n->attrs[i].optional_restore;
		s->attrp[f->attr] = a;
	}
	p->n_slot_variables = n->n_slots;
	p->slot_variables = s->slotp + f->slot;
	for (size_t i = 0; i < n->n_slots; i++, f->slot++) {
		SlotProto *v = &s->slots[f->slot];

		tensorflow__trackable_object_graph__trackable_object__slot_variable_reference__init(v);
		v->original_variable_node_id = n->slots[i].original_variable_node_id;
		v->slot_name = bin(n->slots[i].slot_name);
		v->slot_variable_node_id = n->slots[i].slot_variable_node_id;
		s->slotp[f->slot] = v;
	}
}

static void fill_node(struct scratch *s, struct fill *f, size_t i,
		      const struct objgraph_node *n)
{
	NodeProto *p = &s->nodes[i];

	tensorflow__trackable_object_graph__trackable_object__init(p);
	fill_lists(s, f, n, p);
	if (n->saver_name) {
		tensorflow__registered_saver__init(&s->savers[i]);
		s->savers[i].name = bin(n->saver_name);
		s->savers[i].object_name = bin(n->saver_object_name);
		p->registered_saver = &s->savers[i];
	}
	if (n->has_checkpoint_values != OBJGRAPH_UNSET) {
		tensorflow__trackable_bool_value__init(&s->bools[i]);
		s->bools[i].value = n->has_checkpoint_values;
		p->has_checkpoint_values = &s->bools[i];
	}
	s->nodep[i] = p;
}

static int pack(const struct objgraph *g, struct scratch *s, uint8_t **out,
		size_t *len)
{
	GraphProto p;
	struct fill f = { 0 };
	uint8_t *buf;
	size_t n;

	tensorflow__trackable_object_graph__init(&p);
	for (size_t i = 0; i < g->n_nodes; i++)
		fill_node(s, &f, i, &g->nodes[i]);
	p.n_nodes = g->n_nodes;
	p.nodes = s->nodep;
	n = tensorflow__trackable_object_graph__get_packed_size(&p);
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	*len = tensorflow__trackable_object_graph__pack(&p, buf);
	*out = buf;
	return 0;
}

int objgraph_serialize(const struct objgraph *g, uint8_t **out, size_t *len,
		       char *err, size_t errlen)
{
	struct scratch s = { 0 };
	int rc;

	rc = objgraph_check(g, err, errlen);
	if (rc)
		return rc;
	rc = scratch_alloc(&s, g);
	if (!rc)
		rc = pack(g, &s, out, len);
	scratch_release(&s);
	if (rc)
		return bundle_errf(err, errlen, rc, "out of memory");
	return 0;
}
