/*
 * pack.c - a struct objgraph to TrackableObjectGraph bytes.
 *
 * The graph is turned back into protobuf-c messages pointing at the
 * graph's own strings (nothing is copied) and packed. protobuf-c writes
 * fields in field-number order, leaves out proto3 scalars and bytes equal
 * to their default, and writes a set sub-message even when it is empty
 * (registered_saver with empty names, a has_checkpoint_values of false is
 * "2a 00"), as TensorFlow's C++ serializer does: that is what makes a
 * parsed TensorFlow graph serialize to the same bytes.
 */
#include "objgraph/objgraph.h"

#include <errno.h>
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
typedef Tensorflow__RegisteredSaver SaverProto;
typedef Tensorflow__TrackableBoolValue BoolProto;

/*
 * A graph is packed one node at a time, and a node one slice of each list
 * at a time, so the protobuf-c messages in memory are bounded by PACK_CHUNK
 * whatever the graph's size: TrackableObjectGraph is one repeated field
 * (nodes = 1), so its bytes are each node's, tagged and length-prefixed,
 * in order; and a node's bytes are its fields in number order, where a
 * repeated field's elements are independent, so packing children [0, k)
 * then [k, n) gives the bytes of packing them all at once.
 */
#define PACK_CHUNK 1024

/* The messages of one slice of a node. */
struct scratch {
	ChildProto children[PACK_CHUNK], *childp[PACK_CHUNK];
	AttrProto attrs[PACK_CHUNK], *attrp[PACK_CHUNK];
	SlotProto slots[PACK_CHUNK], *slotp[PACK_CHUNK];
	SaverProto saver;
	BoolProto has_values;
};

/* protobuf-c only reads through it; the cast drops const, not a write. */
static ProtobufCBinaryData bin(const char *str)
{
	ProtobufCBinaryData d = { strlen(str), (uint8_t *)str };

	return d;
}

/* How many items of a list of total, from `from` on, one slice takes. */
static size_t slice_len(size_t total, size_t from)
{
	return total - from < PACK_CHUNK ? total - from : PACK_CHUNK;
}

static size_t fill_children(struct scratch *s, const struct objgraph_node *n, size_t from,
			    NodeProto *p)
{
	size_t k = slice_len(n->n_children, from);

	for (size_t i = 0; i < k; i++) {
		ChildProto *c = &s->children[i];

		tensorflow__trackable_object_graph__trackable_object__object_reference__init(c);
		c->node_id = n->children[from + i].node_id;
		c->local_name = bin(n->children[from + i].local_name);
		s->childp[i] = c;
	}
	p->n_children = k;
	p->children = s->childp;
	return k;
}

static size_t fill_attrs(struct scratch *s, const struct objgraph_node *n, size_t from,
			 NodeProto *p)
{
	size_t k = slice_len(n->n_attrs, from);

	for (size_t i = 0; i < k; i++) {
		const struct objgraph_attr *x = &n->attrs[from + i];
		AttrProto *a = &s->attrs[i];

		tensorflow__trackable_object_graph__trackable_object__serialized_tensor__init(a);
		a->name = bin(x->name);
		a->full_name = bin(x->full_name);
		a->checkpoint_key = bin(x->checkpoint_key);
		a->optional_restore = x->optional_restore;
		s->attrp[i] = a;
	}
	p->n_attributes = k;
	p->attributes = s->attrp;
	return k;
}

static size_t fill_slots(struct scratch *s, const struct objgraph_node *n, size_t from,
			 NodeProto *p)
{
	size_t k = slice_len(n->n_slots, from);

	for (size_t i = 0; i < k; i++) {
		const struct objgraph_slot *x = &n->slots[from + i];
		SlotProto *v = &s->slots[i];

		tensorflow__trackable_object_graph__trackable_object__slot_variable_reference__init(
			v);
		v->original_variable_node_id = x->original_variable_node_id;
		v->slot_name = bin(x->slot_name);
		v->slot_variable_node_id = x->slot_variable_node_id;
		s->slotp[i] = v;
	}
	p->n_slot_variables = k;
	p->slot_variables = s->slotp;
	return k;
}

/* The node's fields after its lists: the saver and has_checkpoint_values. */
static void fill_rest(struct scratch *s, const struct objgraph_node *n, NodeProto *p)
{
	if (n->saver_name) {
		tensorflow__registered_saver__init(&s->saver);
		s->saver.name = bin(n->saver_name);
		s->saver.object_name = bin(n->saver_object_name);
		p->registered_saver = &s->saver;
	}
	if (n->has_checkpoint_values != OBJGRAPH_UNSET) {
		tensorflow__trackable_bool_value__init(&s->has_values);
		s->has_values.value = n->has_checkpoint_values;
		p->has_checkpoint_values = &s->has_values;
	}
}

/* Where a slice goes: counted only (out NULL) or written at out + *len. */
static void emit(const NodeProto *p, uint8_t *out, size_t *len)
{
	/* protobuf-c has no pack functions of its own for nested messages */
	if (out)
		*len += protobuf_c_message_pack(&p->base, out + *len);
	else
		*len += protobuf_c_message_get_packed_size(&p->base);
}

/* The bytes of node n, slice by slice: counted, or written at out + *len. */
static void pack_node(struct scratch *s, const struct objgraph_node *n, uint8_t *out, size_t *len)
{
	size_t (*const fill[])(struct scratch *, const struct objgraph_node *, size_t,
			       NodeProto *) = { fill_children, fill_attrs, fill_slots };
	const size_t count[] = { n->n_children, n->n_attrs, n->n_slots };
	NodeProto p;

	for (size_t f = 0; f < 3; f++)
		for (size_t from = 0; from < count[f];) {
			tensorflow__trackable_object_graph__trackable_object__init(&p);
			from += fill[f](s, n, from, &p);
			emit(&p, out, len);
		}
	tensorflow__trackable_object_graph__trackable_object__init(&p);
	fill_rest(s, n, &p);
	emit(&p, out, len);
}

/* Field 1 (nodes), wire type 2 (length-delimited). */
#define NODES_TAG 0x0a

/*
 * A node's length as protobuf writes it, a base-128 varint (protobuf-c
 * keeps its own encoder private); returns the bytes written, at most 10.
 */
static size_t put_varint(uint8_t *dst, uint64_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		dst[n++] = (uint8_t)(v | 0x80);
	dst[n++] = (uint8_t)v;
	return n;
}

/*
 * The graph's bytes at out + *len (out NULL: only counted), each node as
 * protobuf-c writes a repeated message: its tag, its length, its bytes.
 */
static void pack_graph(struct scratch *s, const struct objgraph *g, uint8_t *out, size_t *len)
{
	uint8_t head[1 + 10];

	for (size_t i = 0; i < g->n_nodes; i++) {
		size_t n = 0, h;

		pack_node(s, &g->nodes[i], NULL, &n);
		head[0] = NODES_TAG;
		h = 1 + put_varint(head + 1, n);
		if (out) {
			memcpy(out + *len, head, h);
			*len += h;
			pack_node(s, &g->nodes[i], out, len);
		} else {
			*len += h + n;
		}
	}
}

/*
 * Serialize g into one malloc'd buffer of exactly its size, counted first;
 * as_tensor: with the header that makes the bytes a scalar string tensor.
 */
static int serialize(const struct objgraph *g, int as_tensor, uint8_t **out, size_t *len, char *err,
		     size_t errlen)
{
	uint8_t head[BUNDLE_STRING_HEAD_MAX];
	struct scratch *s;
	size_t n = 0, h = 0;
	int rc = objgraph_check(g, err, errlen);

	if (rc)
		return rc;
	s = malloc(sizeof(*s));
	if (!s)
		return objgraph_errf(err, errlen, -ENOMEM, "out of memory");
	pack_graph(s, g, NULL, &n);
	if (as_tensor && n > OBJGRAPH_MAX_BYTES) {
		free(s);
		return objgraph_errf(
			err, errlen, -EINVAL,
			"the object graph would be %zu bytes, over protobuf's 2 GiB limit", n);
	}
	if (as_tensor)
		h = bundle_string_head(n, head);
	*out = malloc(h + n + 1);
	if (*out) {
		memcpy(*out, head, h);
		*len = h;
		pack_graph(s, g, *out, len);
	}
	free(s);
	if (!*out)
		return objgraph_errf(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

int objgraph_serialize(const struct objgraph *g, uint8_t **out, size_t *len, char *err,
		       size_t errlen)
{
	return serialize(g, 0, out, len, err, errlen);
}

int objgraph_serialize_tensor(const struct objgraph *g, uint8_t **out, size_t *len, uint32_t *crc,
			      char *err, size_t errlen)
{
	int rc = serialize(g, 1, out, len, err, errlen);

	if (rc == 0 && bundle_tensor_crc(BUNDLE_DT_STRING, 1, *out, *len, crc)) {
		free(*out);
		return objgraph_errf(err, errlen, -EBADMSG,
				     "the object graph's encoding does not check");
	}
	return rc;
}
