/*
 * test_objgraph_graph.c - the TF2 object graph (objgraph/objgraph.h) on the
 * real TensorFlow checkpoints of tests/data/corpus and on small graphs
 * built here: TensorFlow's names and keys, byte-identical round trips,
 * reading the graph tensor out of a bundle. Hostile graphs are in
 * test_objgraph_hostile.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "objgraph/objgraph.h"
#include "tests/unit/testutil.h"

static char err[BUNDLE_ERR_MAX];

static struct bundle_reader *open_corpus(const char *name)
{
	struct bundle_reader *r;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/variables", CKPTFS_CORPUS_DIR, name);
	if (bundle_open(path, &r, err, sizeof(err)))
		fail_msg("%s", err);
	return r;
}

static char *path_of(const struct objgraph_walk *w, int32_t node)
{
	char *p = NULL;

	if (objgraph_path(w, node, &p, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	return p;
}

static char *key_of(const struct objgraph_walk *w, int32_t node, size_t a)
{
	char *k = NULL;

	if (objgraph_key(w, node, a, &k, NULL, err, sizeof(err)))
		fail_msg("%s", err);
	return k;
}

static void assert_path(const struct objgraph_walk *w, int32_t node, const char *want)
{
	char *p = path_of(w, node);

	assert_string_equal(p, want);
	free(p);
}

static void assert_key(const struct objgraph_walk *w, int32_t node, size_t a, const char *want)
{
	char *k = key_of(w, node, a);

	assert_string_equal(k, want);
	free(k);
}

static void assert_same_str(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_same_node(const struct objgraph_node *a, const struct objgraph_node *b)
{
	assert_int_equal(a->n_children, b->n_children);
	assert_int_equal(a->n_attrs, b->n_attrs);
	assert_int_equal(a->n_slots, b->n_slots);
	for (size_t i = 0; i < a->n_children; i++) {
		assert_int_equal(a->children[i].node_id, b->children[i].node_id);
		assert_string_equal(a->children[i].local_name, b->children[i].local_name);
	}
	for (size_t i = 0; i < a->n_attrs; i++) {
		assert_string_equal(a->attrs[i].name, b->attrs[i].name);
		assert_string_equal(a->attrs[i].full_name, b->attrs[i].full_name);
		assert_string_equal(a->attrs[i].checkpoint_key, b->attrs[i].checkpoint_key);
		assert_int_equal(a->attrs[i].optional_restore, b->attrs[i].optional_restore);
	}
	for (size_t i = 0; i < a->n_slots; i++) {
		assert_int_equal(a->slots[i].original_variable_node_id,
				 b->slots[i].original_variable_node_id);
		assert_string_equal(a->slots[i].slot_name, b->slots[i].slot_name);
		assert_int_equal(a->slots[i].slot_variable_node_id,
				 b->slots[i].slot_variable_node_id);
	}
	assert_same_str(a->saver_name, b->saver_name);
	assert_same_str(a->saver_object_name, b->saver_object_name);
	assert_int_equal(a->has_checkpoint_values, b->has_checkpoint_values);
}

static void assert_same_graph(const struct objgraph *a, const struct objgraph *b)
{
	assert_int_equal(a->n_nodes, b->n_nodes);
	for (size_t i = 0; i < a->n_nodes; i++)
		assert_same_node(&a->nodes[i], &b->nodes[i]);
}

/* Serialize g, parse that, compare; return the bytes (caller frees). */
static uint8_t *roundtrip(const struct objgraph *g, size_t *len)
{
	struct objgraph *back;
	uint8_t *bytes;

	if (objgraph_serialize(g, &bytes, len, err, sizeof(err)))
		fail_msg("%s", err);
	if (objgraph_parse("rt", bytes, *len, &back, err, sizeof(err)))
		fail_msg("%s", err);
	assert_same_graph(g, back);
	objgraph_free(back);
	return bytes;
}

/*
 * What every TensorFlow-written graph satisfies: every attribute's stored
 * key is the generated one and names a tensor of the bundle; TensorFlow
 * numbers nodes in breadth-first order, so the walk finds the tree nodes
 * in id order and the slot variables come after them.
 */
static void check_tf_graph(const struct bundle_reader *r, const struct objgraph *g, size_t *n_keys)
{
	int32_t last_from = -1;
	size_t last_index = 0;
	struct objgraph_walk w;

	assert_int_equal(objgraph_walk_init(&w, g, err, sizeof(err)), 0);
	assert_int_equal(w.origin[0].via, OBJGRAPH_ROOT);
	for (size_t i = 0; i < g->n_nodes; i++) {
		const struct objgraph_origin *o = &w.origin[i];

		assert_int_not_equal(o->via, OBJGRAPH_UNREACHED);
		if (i > 0 && w.origin[i - 1].via == OBJGRAPH_SLOT)
			assert_int_equal(o->via, OBJGRAPH_SLOT);
		if (o->via == OBJGRAPH_CHILD) {
			/* found in the order (parent, child index) */
			assert_true(o->from > last_from ||
				    (o->from == last_from && o->index > last_index));
			last_from = o->from;
			last_index = o->index;
		}
		for (size_t a = 0; a < g->nodes[i].n_attrs; a++) {
			const char *stored = g->nodes[i].attrs[a].checkpoint_key;

			assert_key(&w, (int32_t)i, a, stored);
			assert_true(bundle_find(r, stored, strlen(stored)) != BUNDLE_NOT_FOUND);
			++*n_keys;
		}
	}
	objgraph_walk_release(&w);
}

static void test_objgraph_keras_corpus(void **state)
{
	struct bundle_reader *r = open_corpus("tfx_keras_tf2");
	struct objgraph *g;
	uint8_t *raw, *out;
	size_t raw_len, out_len, n_keys = 0, n_slots = 0;

	(void)state;
	assert_int_equal(objgraph_read_bytes(r, &raw, &raw_len, err, sizeof(err)), 0);
	assert_int_equal(objgraph_parse("keras", raw, raw_len, &g, err, sizeof(err)), 0);
	check_tf_graph(r, g, &n_keys);
	/* every tensor but the graph itself is some attribute's */
	assert_int_equal(n_keys, bundle_num_entries(r) - 1);
	for (size_t i = 0; i < g->n_nodes; i++)
		n_slots += g->nodes[i].n_slots;
	assert_true(n_slots > 0);
	out = roundtrip(g, &out_len);
	assert_int_equal(out_len, raw_len);
	assert_memory_equal(out, raw, raw_len);
	free(out);
	free(raw);
	objgraph_free(g);
	bundle_close(r);
}

/*
 * An older TensorFlow wrote ObjectReference's fields in reverse order
 * (local_name before node_id). Canonical output cannot match those bytes
 * (TensorFlow's own re-serialization does not either); it must mean the
 * same graph and be a fixed point.
 */
static void test_objgraph_serving_corpus_noncanonical(void **state)
{
	struct bundle_reader *r = open_corpus("serving_half_plus_two_tf2");
	struct objgraph *g, *g2;
	uint8_t *raw, *once, *twice;
	size_t raw_len, once_len, twice_len, n_keys = 0;

	(void)state;
	assert_int_equal(objgraph_read_bytes(r, &raw, &raw_len, err, sizeof(err)), 0);
	assert_int_equal(objgraph_parse("serving", raw, raw_len, &g, err, sizeof(err)), 0);
	check_tf_graph(r, g, &n_keys);
	assert_int_equal(n_keys, bundle_num_entries(r) - 1);
	once = roundtrip(g, &once_len);
	assert_int_equal(once_len, raw_len);
	assert_memory_not_equal(once, raw, raw_len);
	assert_int_equal(objgraph_parse("once", once, once_len, &g2, err, sizeof(err)), 0);
	twice = roundtrip(g2, &twice_len);
	assert_int_equal(twice_len, once_len);
	assert_memory_equal(twice, once, once_len);
	free(raw);
	free(once);
	free(twice);
	objgraph_free(g);
	objgraph_free(g2);
	bundle_close(r);
}

static void test_objgraph_tf1_checkpoint_has_none(void **state)
{
	struct bundle_reader *r = open_corpus("serving_half_plus_two_tf1");
	struct objgraph *g = NULL;

	(void)state;
	assert_int_equal(objgraph_read(r, &g, err, sizeof(err)), -ENOENT);
	assert_null(g);
	assert_non_null(strstr(err, "no _CHECKPOINTABLE_OBJECT_GRAPH tensor"));
	bundle_close(r);
}

/*
 * A small graph with what TensorFlow's naming has to get right:
 *   0 root: "model" -> 1, "opt" -> 2
 *   1 model: "a/b.c" -> 3, "up" -> 0 (back to the root), "me" -> 1 (itself)
 *   2 opt: slot "m/x" of variable 3 is node 4; "ve" -> 6
 *   3 variable "VARIABLE_VALUE"; 4 its slot "VARIABLE_VALUE"
 *   5 unreachable, with an attribute
 *   6 ".TENSORS" and "a.b" attributes, registered saver, no has_values
 */
static struct objgraph_child c0[] = { { 1, "model" }, { 2, "opt" } };
static struct objgraph_child c1[] = { { 3, "a/b.c" }, { 0, "up" }, { 1, "me" } };
static struct objgraph_child c2[] = { { 6, "ve" } };
static struct objgraph_slot s2[] = { { 3, "m/x", 4 } };
static struct objgraph_attr a3[] = { { "VARIABLE_VALUE", "v", "k3", 0 } };
static struct objgraph_attr a4[] = { { "VARIABLE_VALUE", "", "k4", 0 } };
static struct objgraph_attr a5[] = { { "VARIABLE_VALUE", "", "k5", 1 } };
static struct objgraph_attr a6[] = { { ".TENSORS", "", "k6", 0 }, { "a.b", "", "k6b", 0 } };
static struct objgraph_node small_nodes[] = {
	{ .n_children = 2, .children = c0, .has_checkpoint_values = 1 },
	{ .n_children = 3, .children = c1, .has_checkpoint_values = 1 },
	{ .n_children = 1, .children = c2, .n_slots = 1, .slots = s2, .has_checkpoint_values = 0 },
	{ .n_attrs = 1, .attrs = a3, .has_checkpoint_values = 1 },
	{ .n_attrs = 1, .attrs = a4, .has_checkpoint_values = 1 },
	{ .n_attrs = 1, .attrs = a5, .has_checkpoint_values = 1 },
	{ .n_attrs = 2,
	  .attrs = a6,
	  .saver_name = "saver",
	  .saver_object_name = "ve",
	  .has_checkpoint_values = OBJGRAPH_UNSET },
};
static const struct objgraph small = { 7, small_nodes };

static void test_objgraph_small_graph_names(void **state)
{
	struct objgraph_walk w;
	char *p = (char *)"untouched";

	(void)state;
	assert_int_equal(objgraph_walk_init(&w, &small, err, sizeof(err)), 0);
	assert_path(&w, 0, "");
	assert_path(&w, 1, "model");
	assert_path(&w, 2, "opt");
	assert_path(&w, 3, "model/a.Sb..c");
	assert_path(&w, 4, "model/a.Sb..c/.OPTIMIZER_SLOT/opt/m.Sx");
	assert_path(&w, 6, "opt/ve");
	assert_key(&w, 3, 0, "model/a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE");
	assert_key(&w, 4, 0, "model/a.Sb..c/.OPTIMIZER_SLOT/opt/m.Sx/.ATTRIBUTES/VARIABLE_VALUE");
	assert_key(&w, 6, 0, "opt/ve/.ATTRIBUTES/");
	assert_key(&w, 6, 1, "opt/ve/.ATTRIBUTES/a..b");
	assert_int_equal(w.origin[4].via, OBJGRAPH_SLOT);
	assert_int_equal(w.origin[4].from, 2);
	assert_int_equal(w.origin[3].from, 1);
	assert_int_equal(w.origin[3].index, 0);

	assert_int_equal(w.origin[5].via, OBJGRAPH_UNREACHED);
	assert_int_equal(objgraph_path(&w, 5, &p, NULL, err, sizeof(err)), -ENOENT);
	assert_string_equal(p, "untouched");
	assert_non_null(strstr(err, "node 5 is not reachable"));
	assert_int_equal(objgraph_key(&w, 5, 0, &p, NULL, err, sizeof(err)), -ENOENT);
	assert_int_equal(objgraph_path(&w, 7, &p, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(objgraph_path(&w, -1, &p, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(objgraph_key(&w, 3, 1, &p, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "node 3 has no attribute 1"));
	objgraph_walk_release(&w);
}

static void test_objgraph_small_graph_roundtrip(void **state)
{
	uint8_t *once, *twice;
	size_t n1, n2;
	struct objgraph *g;

	(void)state;
	once = roundtrip(&small, &n1);
	assert_int_equal(objgraph_parse("small", once, n1, &g, err, sizeof(err)), 0);
	twice = roundtrip(g, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(once, twice, n1);
	objgraph_free(g);
	free(once);
	free(twice);
}

/* A hand encoder for the wide graph below: protobuf's wire format. */
struct wire {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct wire *w, const void *b, size_t n)
{
	if (w->n + n > w->cap) {
		w->cap = 2 * (w->n + n);
		w->p = realloc(w->p, w->cap);
		assert_non_null(w->p);
	}
	memcpy(w->p + w->n, b, n);
	w->n += n;
}

static void put_varint(struct wire *w, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	put(w, b, n);
}

/* Field `field` as length-delimited bytes (a string or a message). */
static void put_bytes(struct wire *w, unsigned field, const void *b, size_t n)
{
	put_varint(w, field << 3 | 2);
	put_varint(w, n);
	put(w, b, n);
}

static void put_uint(struct wire *w, unsigned field, uint64_t v)
{
	put_varint(w, field << 3);
	put_varint(w, v);
}

#define WIDE 2500 /* over the packer's slices of 1024 */

/*
 * Lists longer than the packer's slices: the root has WIDE children, node
 * 1 WIDE attributes and WIDE slot variables (nodes WIDE + 1 on). The bytes
 * must be those of the whole node at once, written here by hand.
 */
static void test_objgraph_wide_nodes(void **state)
{
	const size_t n_nodes = 2 * WIDE + 1;
	struct objgraph_node *nodes = calloc(n_nodes, sizeof(*nodes));
	struct objgraph_child *kids = calloc(WIDE, sizeof(*kids));
	struct objgraph_attr *attrs = calloc(WIDE, sizeof(*attrs));
	struct objgraph_slot *slots = calloc(WIDE, sizeof(*slots));
	char(*names)[16] = calloc(WIDE, sizeof(*names));
	struct objgraph g = { n_nodes, nodes };
	struct wire want = { 0 }, node = { 0 }, item = { 0 };
	uint8_t *got;
	size_t len;

	(void)state;
	assert_true(nodes && kids && attrs && slots && names);
	for (size_t i = 0; i < n_nodes; i++)
		nodes[i].has_checkpoint_values = OBJGRAPH_UNSET;
	for (size_t i = 0; i < WIDE; i++) {
		snprintf(names[i], sizeof(names[i]), "c%zu", i);
		kids[i] = (struct objgraph_child){ (int32_t)i + 1, names[i] };
		attrs[i] = (struct objgraph_attr){ names[i], "", names[i], 0 };
		slots[i] = (struct objgraph_slot){ 2, names[i], (int32_t)(WIDE + 1 + i) };
	}
	nodes[0].children = kids;
	nodes[0].n_children = WIDE;
	nodes[1].attrs = attrs;
	nodes[1].n_attrs = WIDE;
	nodes[1].slots = slots;
	nodes[1].n_slots = WIDE;
	got = roundtrip(&g, &len);

	for (size_t i = 0; i < WIDE; i++) { /* node 0: children = 1 */
		item.n = 0;
		put_uint(&item, 1, i + 1);
		put_bytes(&item, 2, names[i], strlen(names[i]));
		put_bytes(&node, 1, item.p, item.n);
	}
	put_bytes(&want, 1, node.p, node.n);
	node.n = 0;
	for (size_t i = 0; i < WIDE; i++) { /* node 1: attributes = 2 */
		item.n = 0;
		put_bytes(&item, 1, names[i], strlen(names[i]));
		put_bytes(&item, 3, names[i], strlen(names[i]));
		put_bytes(&node, 2, item.p, item.n);
	}
	for (size_t i = 0; i < WIDE; i++) { /* slot_variables = 3 */
		item.n = 0;
		put_uint(&item, 1, 2);
		put_bytes(&item, 2, names[i], strlen(names[i]));
		put_uint(&item, 3, WIDE + 1 + i);
		put_bytes(&node, 3, item.p, item.n);
	}
	put_bytes(&want, 1, node.p, node.n);
	for (size_t i = 2; i < n_nodes; i++) /* empty nodes */
		put_bytes(&want, 1, "", 0);
	assert_int_equal(len, want.n);
	assert_memory_equal(got, want.p, len);
	free(got);
	free(want.p);
	free(node.p);
	free(item.p);
	free(names);
	free(slots);
	free(attrs);
	free(kids);
	free(nodes);
}

/*
 * Present-but-empty sub-messages are written, as TensorFlow does: a
 * registered_saver with empty names is "22 00", has_checkpoint_values
 * false is "2a 00", true "2a 02 08 01"; absent ones are not written.
 */
static void test_objgraph_present_empty_fields(void **state)
{
	static const uint8_t want[] = { 0x0a, 0x04, 0x22, 0x00, 0x2a, 0x00, 0x0a,
					0x04, 0x2a, 0x02, 0x08, 0x01, 0x0a, 0x00 };
	struct objgraph_node n[3] = {
		{ .saver_name = "", .saver_object_name = "", .has_checkpoint_values = 0 },
		{ .has_checkpoint_values = 1 },
		{ .has_checkpoint_values = OBJGRAPH_UNSET },
	};
	const struct objgraph g = { 3, n };
	uint8_t *out;
	size_t len;

	(void)state;
	out = roundtrip(&g, &len);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	free(out);
}

/*
 * The first breadth-first path wins, not the first depth-first one:
 * root: "a" -> 1, "b" -> 2; 1: "deep" -> 2. Node 2 is "b" although the
 * edge from 1 is listed earlier in id order. Among paths of one length
 * the earlier child wins: root "x" and "y" both -> 3 gives "x".
 */
static void test_objgraph_breadth_first_wins(void **state)
{
	struct objgraph_child r[] = { { 1, "a" }, { 2, "b" }, { 3, "x" }, { 3, "y" } };
	struct objgraph_child one[] = { { 2, "deep" } };
	struct objgraph_node n[4] = {
		{ .n_children = 4, .children = r },
		{ .n_children = 1, .children = one },
	};
	const struct objgraph g = { 4, n };
	struct objgraph_walk w;

	(void)state;
	for (int i = 0; i < 4; i++)
		n[i].has_checkpoint_values = OBJGRAPH_UNSET;
	assert_int_equal(objgraph_walk_init(&w, &g, err, sizeof(err)), 0);
	assert_path(&w, 2, "b");
	assert_path(&w, 3, "x");
	objgraph_walk_release(&w);
}

/* TensorFlow saves a dict key "" as an empty local name: "m/d//.ATTRIB..." */
static void test_objgraph_empty_local_name(void **state)
{
	struct objgraph_child r[] = { { 1, "m" } };
	struct objgraph_child m[] = { { 2, "" } };
	struct objgraph_attr a[] = { { "VARIABLE_VALUE", "", "k", 0 } };
	struct objgraph_node n[3] = {
		{ .n_children = 1, .children = r, .has_checkpoint_values = 1 },
		{ .n_children = 1, .children = m, .has_checkpoint_values = 1 },
		{ .n_attrs = 1, .attrs = a, .has_checkpoint_values = 1 },
	};
	const struct objgraph g = { 3, n };
	struct objgraph_walk w;

	(void)state;
	assert_int_equal(objgraph_walk_init(&w, &g, err, sizeof(err)), 0);
	assert_key(&w, 2, 0, "m//.ATTRIBUTES/VARIABLE_VALUE");
	objgraph_walk_release(&w);
}

/*
 * A chain of 100000 nodes: the deepest path is built without recursion,
 * and its length is what the names add up to.
 */
static void test_objgraph_deep_chain(void **state)
{
	enum {
		N = 100000
	};
	struct objgraph_node *n = calloc(N, sizeof(*n));
	struct objgraph_child *c = calloc(N, sizeof(*c));
	const struct objgraph g = { N, n };
	struct objgraph_walk w;
	char *p;
	size_t len;

	(void)state;
	assert_non_null(n);
	assert_non_null(c);
	for (int i = 0; i < N; i++) {
		n[i].has_checkpoint_values = OBJGRAPH_UNSET;
		if (i + 1 < N) {
			c[i].node_id = i + 1;
			c[i].local_name = "/";
			n[i].n_children = 1;
			n[i].children = &c[i];
		}
	}
	assert_int_equal(objgraph_walk_init(&w, &g, err, sizeof(err)), 0);
	assert_int_equal(objgraph_path(&w, N - 1, &p, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 3 * (size_t)(N - 1) - 1); /* ".S" and '/' */
	assert_int_equal(strlen(p), len);
	assert_memory_equal(p, ".S/.S/", 6);
	assert_string_equal(p + len - 2, ".S");
	free(p);
	objgraph_walk_release(&w);
	free(n);
	free(c);
}

/* ------------------------------------------- reading from a bundle */

/* A bundle whose only tensor is the graph key with the given contents. */
static struct bundle_reader *bundle_with(const char *name, int dtype, int rank, const void *data,
					 size_t len)
{
	int64_t dims[1] = { 2 };
	struct bundle_entry e = { .key = OBJGRAPH_TENSOR_KEY,
				  .key_len = strlen(OBJGRAPH_TENSOR_KEY),
				  .dtype = dtype,
				  .rank = rank,
				  .dims = dims };
	struct bundle_writer *wr;
	struct bundle_reader *r;
	char prefix[512];

	snprintf(prefix, sizeof(prefix), "%s/%s", testutil_dir, name);
	assert_int_equal(bundle_writer_open(prefix, &wr, err, sizeof(err)), 0);
	assert_int_equal(bundle_writer_add(wr, &e, data, len), 0);
	assert_int_equal(bundle_writer_finish(wr, err, sizeof(err)), 0);
	bundle_writer_free(wr);
	assert_int_equal(bundle_open(prefix, &r, err, sizeof(err)), 0);
	return r;
}

static void test_objgraph_read_written_bundle(void **state)
{
	struct bundle_reader *r;
	struct objgraph *g;
	uint8_t *bytes, *enc;
	size_t len, enc_len;
	const char *strs[1];

	(void)state;
	bytes = roundtrip(&small, &len);
	strs[0] = (const char *)bytes;
	assert_int_equal(bundle_string_encode(strs, &len, 1, &enc, &enc_len), 0);
	r = bundle_with("ok", BUNDLE_DT_STRING, 0, enc, enc_len);
	assert_int_equal(objgraph_read(r, &g, err, sizeof(err)), 0);
	assert_same_graph(&small, g);
	objgraph_free(g);
	bundle_close(r);
	free(enc);
	free(bytes);
}

static void expect_read_error(struct bundle_reader *r, int code, const char *frag)
{
	struct objgraph *g = NULL;

	assert_int_equal(objgraph_read(r, &g, err, sizeof(err)), code);
	assert_null(g);
	if (!strstr(err, frag))
		fail_msg("message '%s' lacks '%s'", err, frag);
	bundle_close(r);
}

static void test_objgraph_read_wrong_tensors(void **state)
{
	static const float f = 1.0f;
	static const char *two[] = { "", "" };
	static const size_t two_len[] = { 0, 0 };
	const char *junk[] = { "\x0a\x05" };
	size_t junk_len = 2;
	uint8_t *enc;
	size_t enc_len;

	(void)state;
	expect_read_error(bundle_with("float", BUNDLE_DT_FLOAT, 0, &f, 4), -EBADMSG,
			  "is a float32 tensor of rank 0, not a scalar string");
	assert_int_equal(bundle_string_encode(two, two_len, 2, &enc, &enc_len), 0);
	expect_read_error(bundle_with("vec", BUNDLE_DT_STRING, 1, enc, enc_len), -EBADMSG,
			  "of rank 1, not a scalar string");
	free(enc);
	assert_int_equal(bundle_string_encode(junk, &junk_len, 1, &enc, &enc_len), 0);
	expect_read_error(bundle_with("junk", BUNDLE_DT_STRING, 0, enc, enc_len), -EBADMSG,
			  "not a serialized TrackableObjectGraph");
	free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objgraph_keras_corpus),
		cmocka_unit_test(test_objgraph_wide_nodes),
		cmocka_unit_test(test_objgraph_serving_corpus_noncanonical),
		cmocka_unit_test(test_objgraph_tf1_checkpoint_has_none),
		cmocka_unit_test(test_objgraph_small_graph_names),
		cmocka_unit_test(test_objgraph_small_graph_roundtrip),
		cmocka_unit_test(test_objgraph_present_empty_fields),
		cmocka_unit_test(test_objgraph_breadth_first_wins),
		cmocka_unit_test(test_objgraph_empty_local_name),
		cmocka_unit_test(test_objgraph_deep_chain),
		cmocka_unit_test(test_objgraph_read_written_bundle),
		cmocka_unit_test(test_objgraph_read_wrong_tensors),
	};

	return cmocka_run_group_tests_name("objgraph_graph", tests, testutil_setup,
					   testutil_teardown);
}
