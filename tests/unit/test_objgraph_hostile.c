/*
 * test_objgraph_hostile.c - object graphs that must be refused,
 * each with its error code and a message fragment: broken structure
 * checked on graphs built in C (objgraph_check, and objgraph_serialize
 * refusing them), and hostile bytes written here field by field
 * (objgraph_parse), which our own serializer would never produce.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "objgraph/objgraph.h"

static char err[BUNDLE_ERR_MAX];

static void expect_refused(const struct objgraph *g, int code, const char *frag)
{
	uint8_t *out = NULL;
	size_t len;

	err[0] = '\0';
	assert_int_equal(objgraph_check(g, err, sizeof(err)), code);
	if (!strstr(err, frag))
		fail_msg("message '%s' lacks '%s'", err, frag);
	assert_int_equal(objgraph_serialize(g, &out, &len, err, sizeof(err)), code);
	assert_null(out);
}

/* Three nodes, root -> 1 "a", root -> 2 "b", none with anything else. */
static struct objgraph_child rc[2];
static struct objgraph_node nodes[3];
static struct objgraph g3;

static int reset(void **state)
{
	(void)state;
	memset(nodes, 0, sizeof(nodes));
	rc[0] = (struct objgraph_child){ 1, "a" };
	rc[1] = (struct objgraph_child){ 2, "b" };
	nodes[0].n_children = 2;
	nodes[0].children = rc;
	for (int i = 0; i < 3; i++)
		nodes[i].has_checkpoint_values = OBJGRAPH_UNSET;
	g3 = (struct objgraph){ 3, nodes };
	assert_int_equal(objgraph_check(&g3, err, sizeof(err)), 0);
	return 0;
}

static void test_check_no_nodes(void **state)
{
	const struct objgraph empty = { 0, NULL };

	(void)state;
	expect_refused(&empty, -EBADMSG, "has no nodes (no root)");
}

static void test_check_dangling_child(void **state)
{
	(void)state;
	rc[1].node_id = 3;
	expect_refused(&g3, -EBADMSG, "node 0: child 1 refers to node 3, the graph has 3 nodes");
	rc[1].node_id = -1;
	expect_refused(&g3, -EBADMSG, "refers to node -1");
}

static void test_check_duplicate_child_names(void **state)
{
	(void)state;
	rc[1].local_name = "a";
	expect_refused(&g3, -EBADMSG, "node 0: two children are named 'a'");
}

static void test_check_cycles_are_legal(void **state)
{
	struct objgraph_child back[] = { { 0, "root" }, { 1, "self" } };

	(void)state;
	nodes[1].n_children = 2;
	nodes[1].children = back;
	assert_int_equal(objgraph_check(&g3, err, sizeof(err)), 0);
}

static void test_check_slot_ids_out_of_range(void **state)
{
	struct objgraph_slot s = { 1, "m", 3 };

	(void)state;
	nodes[0].n_slots = 1;
	nodes[0].slots = &s;
	expect_refused(&g3, -EBADMSG,
		       "node 0: slot variable 0 refers to node 3, the graph has 3 nodes");
	s = (struct objgraph_slot){ 7, "m", 2 };
	expect_refused(&g3, -EBADMSG, "slot variable's original variable 0 refers to node 7");
}

static void test_check_slot_variable_named_twice(void **state)
{
	struct objgraph_slot s[2] = { { 1, "m", 0 }, { 1, "v", 0 } };
	struct objgraph_node four[4];
	const struct objgraph g4 = { 4, four };

	(void)state;
	nodes[2].n_slots = 1;
	nodes[2].slots = s;
	expect_refused(&g3, -EBADMSG, "slot variable 0 is node 0, which is the root");
	s[0].slot_variable_node_id = 1;
	expect_refused(&g3, -EBADMSG, "is node 1, which is also a child");

	/* a fourth node, the slot of two references */
	memcpy(four, nodes, sizeof(nodes));
	four[3] = (struct objgraph_node){ .has_checkpoint_values = OBJGRAPH_UNSET };
	four[2].n_slots = 2;
	s[0].slot_variable_node_id = s[1].slot_variable_node_id = 3;
	expect_refused(
		&g4, -EBADMSG,
		"node 2: slot variable 1 is node 3, the slot variable of another reference too");
}

static void test_check_bad_text(void **state)
{
	static const char *const bad[] = {
		"\xc0\xaf",         /* overlong '/' */
		"\xed\xa0\x80",     /* a surrogate */
		"a\xe2\x82",        /* truncated */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"\x80",             /* a lone continuation byte */
	};
	struct objgraph_attr a = { "VARIABLE_VALUE", "", "k", 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc[1].local_name = bad[i];
		expect_refused(&g3, -EBADMSG, "node 0: child name 1 is not valid UTF-8");
	}
	rc[1].local_name = "\xe2\x82\xac\xf0\x9f\x98\x80"; /* fine: euro, emoji */
	assert_int_equal(objgraph_check(&g3, err, sizeof(err)), 0);
	rc[1].local_name = NULL;
	expect_refused(&g3, -EBADMSG, "node 0: child name 1 has no text (NULL)");
	rc[1].local_name = "b";
	nodes[1].n_attrs = 1;
	nodes[1].attrs = &a;
	a.checkpoint_key = "\xff";
	expect_refused(&g3, -EBADMSG, "node 1: attribute checkpoint_key 0 is not valid UTF-8");
	a.checkpoint_key = "k";
	a.full_name = NULL;
	expect_refused(&g3, -EBADMSG, "attribute full_name 0 has no text");
}

static void test_check_saver_and_has_values(void **state)
{
	(void)state;
	nodes[2].saver_name = "s";
	expect_refused(&g3, -EBADMSG, "node 2: registered saver object_name 0 has no text");
	nodes[2].saver_object_name = "o";
	assert_int_equal(objgraph_check(&g3, err, sizeof(err)), 0);
	nodes[1].has_checkpoint_values = 2;
	expect_refused(&g3, -EBADMSG, "node 1: has_checkpoint_values is 2");
}

/* ------------------------------------------------------ hostile bytes */

/* A protobuf writer just big enough for the messages below. */
struct wire {
	uint8_t b[256];
	size_t n;
};

static void w_varint(struct wire *w, uint64_t v)
{
	do {
		assert_true(w->n < sizeof(w->b));
		w->b[w->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

static void w_int(struct wire *w, int field, int64_t v)
{
	w_varint(w, (uint64_t)field << 3);
	w_varint(w, (uint64_t)v);
}

static void w_bytes(struct wire *w, int field, const void *p, size_t len)
{
	w_varint(w, (uint64_t)field << 3 | 2);
	w_varint(w, len);
	assert_true(w->n + len <= sizeof(w->b));
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

static void w_msg(struct wire *w, int field, const struct wire *m)
{
	w_bytes(w, field, m->b, m->n);
}

/* A graph of a root whose one child edge is (id, name) and a plain node. */
static struct wire graph_with_child(int64_t id, const char *name, size_t name_len)
{
	struct wire ref = { .n = 0 }, root = { .n = 0 }, leaf = { .n = 0 };
	struct wire g = { .n = 0 };

	w_int(&ref, 1, id);
	w_bytes(&ref, 2, name, name_len);
	w_msg(&root, 1, &ref);
	w_msg(&g, 1, &root);
	w_msg(&g, 1, &leaf);
	return g;
}

static void expect_parse(const struct wire *w, int code, const char *frag)
{
	struct objgraph *g = NULL;

	err[0] = '\0';
	assert_int_equal(objgraph_parse("hostile", w->b, w->n, &g, err, sizeof(err)), code);
	if (code) {
		assert_null(g);
		if (!strstr(err, frag))
			fail_msg("message '%s' lacks '%s'", err, frag);
	}
	objgraph_free(g);
}

static void test_parse_the_writer_is_right(void **state)
{
	struct wire w = graph_with_child(1, "a", 1);

	(void)state;
	expect_parse(&w, 0, "");
}

static void test_parse_dangling_and_negative_ids(void **state)
{
	struct wire w = graph_with_child(2, "a", 1);

	(void)state;
	expect_parse(&w, -EBADMSG,
		     "'hostile': node 0: child 0 refers to node 2, the graph has 2 nodes");
	/* int32 -1 is ten bytes on the wire, sign-extended */
	w = graph_with_child(-1, "a", 1);
	expect_parse(&w, -EBADMSG, "refers to node -1");
}

static void test_parse_bad_names(void **state)
{
	struct wire w = graph_with_child(1, "a\0b", 3);

	(void)state;
	expect_parse(&w, -EBADMSG, "node 0 of the object graph has a NUL byte");
	w = graph_with_child(1, "\xff", 1);
	expect_parse(&w, -EBADMSG, "node 0: child name 0 is not valid UTF-8");
}

static void test_parse_malformed_wire(void **state)
{
	struct wire w = graph_with_child(1, "a", 1);
	/* one node claiming 4 GiB of bytes: refused, nothing allocated */
	static const uint8_t huge[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f };
	struct wire h = { .n = sizeof(huge) };

	(void)state;
	w.n--;
	expect_parse(&w, -EBADMSG, "not a serialized TrackableObjectGraph");
	memcpy(h.b, huge, sizeof(huge));
	expect_parse(&h, -EBADMSG, "not a serialized TrackableObjectGraph");
	h.n = 0;
	expect_parse(&h, -EBADMSG, "has no nodes");
}

static void test_parse_unknown_fields(void **state)
{
	struct wire w = graph_with_child(1, "a", 1), leaf = { .n = 0 };

	(void)state;
	w_int(&leaf, 6, 1); /* a TrackableObject field TensorFlow may add */
	w_msg(&w, 1, &leaf);
	expect_parse(&w, -ENOTSUP,
		     "node 2 of the object graph has fields this version does not know");
	w = graph_with_child(1, "a", 1);
	w_int(&w, 2, 1);
	expect_parse(&w, -ENOTSUP, "the object graph has fields");
}

static void test_parse_over_the_size_limit(void **state)
{
	static const uint8_t b[1];
	struct objgraph *g = NULL;

	(void)state;
	/* the length is checked first, so b is never read past its 1 byte */
	assert_int_equal(
		objgraph_parse("big", b, (size_t)OBJGRAPH_MAX_BYTES + 1, &g, err, sizeof(err)),
		-EINVAL);
	assert_null(g);
	assert_non_null(strstr(err, "over protobuf's 2 GiB limit"));
}

/* Raw bytes as a wire (for what the writer above would not write). */
static struct wire raw(const char *bytes, size_t n)
{
	struct wire w = { .n = n };

	assert_true(n <= sizeof(w.b));
	memcpy(w.b, bytes, n);
	return w;
}

/*
 * The decoder is protobuf's (parse.c): a string given twice keeps the
 * last, a sub-message given twice is merged, int32 keeps its low 32 bits;
 * a known field of the wrong wire type, a group, field 0, a varint of
 * eleven bytes or a length past the message is no graph; an unknown field
 * of any wire type is refused as unknown.
 */
static void test_parse_wire_rules(void **state)
{
	struct objgraph *g = NULL;
	struct wire w;

	(void)state;
	/* child: node_id 0 then 1, name "a" then "bc"; saver twice, merged */
	w = raw("\x0a\x17"
		"\x0a\x0b\x08\x00\x12\x01"
		"a"
		"\x08\x01\x12\x02"
		"bc"
		"\x22\x03\x0a\x01"
		"s"
		"\x22\x03\x12\x01"
		"o"
		"\x0a\x00",
		27);
	assert_int_equal(objgraph_parse("w", w.b, w.n, &g, err, sizeof(err)), 0);
	assert_int_equal(g->n_nodes, 2);
	assert_int_equal(g->nodes[0].n_children, 1);
	assert_int_equal(g->nodes[0].children[0].node_id, 1);
	assert_string_equal(g->nodes[0].children[0].local_name, "bc");
	assert_string_equal(g->nodes[0].saver_name, "s");
	assert_string_equal(g->nodes[0].saver_object_name, "o");
	assert_int_equal(g->nodes[0].has_checkpoint_values, OBJGRAPH_UNSET);
	assert_null(g->nodes[1].saver_name);
	objgraph_free(g);
	g = NULL;
	/* node_id 2^32 + 1: the low 32 bits, node 1 */
	w = raw("\x0a\x08\x0a\x06\x08\x81\x80\x80\x80\x10"
		"\x0a\x00",
		12);
	assert_int_equal(objgraph_parse("w", w.b, w.n, &g, err, sizeof(err)), 0);
	assert_int_equal(g->nodes[0].children[0].node_id, 1);
	objgraph_free(g);
	w = raw("\x08\x01", 2); /* nodes as a varint */
	expect_parse(&w, -EBADMSG, "not a serialized TrackableObjectGraph");
	w = raw("\x0a\x02\x08\x01", 4); /* children as a varint */
	expect_parse(&w, -EBADMSG, "not a serialized TrackableObjectGraph");
	w = raw("\x0a\x02\x0b\x0c", 4); /* a group */
	expect_parse(&w, -EBADMSG, "not a serialized TrackableObjectGraph");
	w = raw("\x0a\x02\x02\x00", 4); /* field 0 */
	expect_parse(&w, -EBADMSG, "not a serialized TrackableObjectGraph");
	/* an unknown varint of eleven bytes (ten is the most) */
	w = raw("\x0a\x0c\x30\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 14);
	expect_parse(&w, -EBADMSG, "not a serialized TrackableObjectGraph");
	w.b[12] = 0x7f; /* ten bytes: an unknown field, well-formed */
	w.b[1] = 0x0b;
	w.n = 13;
	expect_parse(&w, -ENOTSUP, "node 0 of the object graph has fields");
	w = raw("\x0a\x02\x0a\x05", 4); /* a child longer than its node */
	expect_parse(&w, -EBADMSG, "not a serialized TrackableObjectGraph");
	w = raw("\x0a\x05\x35\x00\x00\x00\x00", 7); /* fixed32 field 6 */
	expect_parse(&w, -ENOTSUP, "node 0 of the object graph has fields");
	w = raw("\x0a\x00\x11\x00\x00\x00\x00\x00\x00\x00\x00", 11); /* fixed64 field 2 */
	expect_parse(&w, -ENOTSUP, "the object graph has fields");
}

/* n copies of the node bytes (node, len) after a root "0a 00"; caller frees. */
static uint8_t *repeat_nodes(const uint8_t *node, size_t len, size_t n, size_t *total)
{
	uint8_t *b = malloc(2 + n * len);

	assert_non_null(b);
	b[0] = 0x0a;
	b[1] = 0x00;
	for (size_t i = 0; i < n; i++)
		memcpy(b + 2 + i * len, node, len);
	*total = 2 + n * len;
	return b;
}

/*
 * Many nodes from few bytes: an empty node is two bytes ("0a 00") and 96
 * of memory parsed and walked, so a graph of them is refused from its
 * counts (-EFBIG, nothing allocated: it fails the same under a tiny
 * allocation budget), with a message that says why.
 */
static void test_parse_many_empty_nodes_are_refused(void **state)
{
	static const uint8_t empty[] = { 0x0a, 0x00 };
	size_t n;
	uint8_t *b = repeat_nodes(empty, sizeof(empty), 200000, &n);
	struct objgraph *g = NULL;

	(void)state;
	assert_int_equal(objgraph_parse("many", b, n, &g, err, sizeof(err)), -EFBIG);
	assert_null(g);
	if (!strstr(err,
		    "'many': object graph refused: its 400002 bytes hold 200001 nodes, 0 child edges, 0 attributes and 0 slot references") ||
	    !strstr(err, "more than 16 per byte of graph"))
		fail_msg("message: %s", err);
	/* a few empty nodes are fine: the slack covers small graphs */
	free(b);
	b = repeat_nodes(empty, sizeof(empty), 30, &n);
	assert_int_equal(objgraph_parse("few", b, n, &g, err, sizeof(err)), 0);
	assert_int_equal(g->n_nodes, 31);
	objgraph_free(g);
	free(b);
}

/*
 * The bound itself: nodes of six bytes ("0a 04 2a 02 08 01", has
 * checkpoint values) take 96 bytes each, exactly 16 per byte, and parse;
 * nodes of four bytes ("0a 02 2a 00") are over it.
 */
static void test_parse_memory_bound(void **state)
{
	static const uint8_t six[] = { 0x0a, 0x04, 0x2a, 0x02, 0x08, 0x01 };
	static const uint8_t four[] = { 0x0a, 0x02, 0x2a, 0x00 };
	struct objgraph *g = NULL;
	size_t n;
	uint8_t *b;

	(void)state;
	b = repeat_nodes(six, sizeof(six), 100000, &n);
	assert_int_equal(objgraph_parse("six", b, n, &g, err, sizeof(err)), 0);
	assert_int_equal(g->n_nodes, 100001);
	assert_int_equal(g->nodes[100000].has_checkpoint_values, 1);
	objgraph_free(g);
	g = NULL;
	free(b);
	b = repeat_nodes(four, sizeof(four), 100000, &n);
	assert_int_equal(objgraph_parse("four", b, n, &g, err, sizeof(err)), -EFBIG);
	assert_null(g);
	free(b);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_check_no_nodes),
		T(test_check_dangling_child),
		T(test_check_duplicate_child_names),
		T(test_check_cycles_are_legal),
		T(test_check_slot_ids_out_of_range),
		T(test_check_slot_variable_named_twice),
		T(test_check_bad_text),
		T(test_check_saver_and_has_values),
		T(test_parse_the_writer_is_right),
		T(test_parse_dangling_and_negative_ids),
		T(test_parse_bad_names),
		T(test_parse_malformed_wire),
		T(test_parse_unknown_fields),
		T(test_parse_over_the_size_limit),
		T(test_parse_wire_rules),
		T(test_parse_many_empty_nodes_are_refused),
		T(test_parse_memory_bound),
	};

	return cmocka_run_group_tests_name("objgraph_hostile", tests, NULL, NULL);
}
