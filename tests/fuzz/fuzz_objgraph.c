/*
 * fuzz_objgraph.c - libFuzzer target for the TF2 object graph
 * (objgraph/objgraph.h): the input is serialized TrackableObjectGraph bytes.
 *
 * objgraph_parse either fails with a non-empty message (the same code with
 * a 9-byte message buffer) or gives a graph on which:
 *   - objgraph_check passes and objgraph_walk_init succeeds, the root is
 *     the root, every reached node's origin points at a real edge or slot;
 *   - every node has a path exactly when it was reached, and the path is
 *     rebuilt here from the origin by an independent model of TensorFlow's
 *     naming (parent path + '/' + escaped name; the slot form), its length
 *     within the bound objgraph.h promises; every attribute's key is the
 *     path + "/.ATTRIBUTES/" + escaped name (".TENSORS": empty);
 *   - objgraph_serialize succeeds, its bytes parse to the same graph, and
 *     serializing that gives the same bytes again.
 * Any violation abort()s with a message. FUZZ_VERBOSE=1 prints each result.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "objgraph/objgraph.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verbose;

#define FUZZ_NAME "fuzz_objgraph"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *v = getenv("FUZZ_VERBOSE");

	(void)argc;
	(void)argv;
	verbose = v && *v && strcmp(v, "0");
	return 0;
}

/* ------------------------------------------------ the naming model */

/* TensorFlow's escape_local_name, written the way its Python reads. */
static char *escape(const char *s)
{
	char *out = malloc(2 * strlen(s) + 1), *p = out;

	CHECK(out, "out of memory");
	for (; *s; s++) {
		if (*s == '.') {
			*p++ = '.';
			*p++ = '.';
		} else if (*s == '/') {
			*p++ = '.';
			*p++ = 'S';
		} else {
			*p++ = *s;
		}
	}
	*p = '\0';
	return out;
}

static char *join(const char *a, const char *sep, const char *b)
{
	char *out = malloc(strlen(a) + strlen(sep) + strlen(b) + 1);

	CHECK(out, "out of memory");
	strcpy(out, a);
	strcat(out, sep);
	strcat(out, b);
	return out;
}

static char *lib_path(const struct objgraph_walk *w, int32_t node)
{
	char err[BUNDLE_ERR_MAX];
	char *p = NULL;
	size_t len;
	int rc = objgraph_path(w, node, &p, &len, err, sizeof(err));

	CHECK(rc == 0, "path of reached node %d: %s", (int)node, err);
	CHECK(strlen(p) == len, "path length %zu, strlen %zu", len, strlen(p));
	return p;
}

/* What the path of a reached node must be, from its origin. */
static char *model_path(const struct objgraph_walk *w, int32_t node)
{
	const struct objgraph_origin *o = &w->origin[node];
	const struct objgraph_node *from = &w->graph->nodes[o->from];
	char *parent, *name, *out, *var, *tmp;

	if (o->via == OBJGRAPH_ROOT)
		return join("", "", "");
	parent = lib_path(w, o->from);
	if (o->via == OBJGRAPH_CHILD) {
		name = escape(from->children[o->index].local_name);
		out = join(parent, w->origin[o->from].via == OBJGRAPH_ROOT ? "" : "/", name);
	} else {
		name = escape(from->slots[o->index].slot_name);
		var = lib_path(w, from->slots[o->index].original_variable_node_id);
		tmp = join(var, "/.OPTIMIZER_SLOT/", parent);
		out = join(tmp, "/", name);
		free(var);
		free(tmp);
	}
	free(parent);
	free(name);
	return out;
}

static void check_origin(const struct objgraph_walk *w, int32_t i)
{
	const struct objgraph_origin *o = &w->origin[i];
	const struct objgraph *g = w->graph;

	CHECK((i == 0) == (o->via == OBJGRAPH_ROOT), "node %d via %d", (int)i, o->via);
	if (o->via == OBJGRAPH_CHILD) {
		CHECK(o->from >= 0 && (size_t)o->from < g->n_nodes &&
			      o->index < g->nodes[o->from].n_children &&
			      g->nodes[o->from].children[o->index].node_id == i,
		      "node %d: bad child origin", (int)i);
	} else if (o->via == OBJGRAPH_SLOT) {
		CHECK(o->from >= 0 && (size_t)o->from < g->n_nodes &&
			      o->index < g->nodes[o->from].n_slots &&
			      g->nodes[o->from].slots[o->index].slot_variable_node_id == i,
		      "node %d: bad slot origin", (int)i);
	}
}

static void check_keys(const struct objgraph_walk *w, int32_t i, const char *path)
{
	const struct objgraph_node *n = &w->graph->nodes[i];
	char err[BUNDLE_ERR_MAX];

	for (size_t a = 0; a < n->n_attrs; a++) {
		const char *name = n->attrs[a].name;
		char *k = NULL, *esc, *want;
		size_t len;
		int rc = objgraph_key(w, i, a, &k, &len, err, sizeof(err));

		CHECK(rc == 0, "key of node %d attr %zu: %s", (int)i, a, err);
		esc = escape(strcmp(name, ".TENSORS") ? name : "");
		want = join(path, "/.ATTRIBUTES/", esc);
		CHECK(!strcmp(k, want) && strlen(k) == len, "node %d attr %zu: key '%s', want '%s'",
		      (int)i, a, k, want);
		free(k);
		free(esc);
		free(want);
	}
}

/* Paths and keys of every node, a path within objgraph.h's size bound. */
static void check_names(const struct objgraph_walk *w, size_t size)
{
	char err[BUNDLE_ERR_MAX];

	for (size_t i = 0; i < w->graph->n_nodes; i++) {
		int32_t id = (int32_t)i;
		char *p = NULL, *want;
		size_t len = 0;
		int rc = objgraph_path(w, id, &p, &len, err, sizeof(err));

		check_origin(w, id);
		if (w->origin[i].via == OBJGRAPH_UNREACHED) {
			CHECK(rc == -ENOENT && !p, "unreached node %zu: rc %d", i, rc);
			CHECK(objgraph_key(w, id, 0, &p, NULL, err, sizeof(err)) == -ENOENT,
			      "unreached node %zu has a key", i);
			continue;
		}
		CHECK(rc == 0, "node %zu: %s", i, err);
		CHECK(len <= 4 * size + 18, "node %zu: path of %zu bytes from %zu", i, len, size);
		want = model_path(w, id);
		CHECK(!strcmp(p, want), "node %zu: path '%s', want '%s'", i, p, want);
		check_keys(w, id, p);
		free(want);
		free(p);
	}
}

/* ------------------------------------------------------- round trip */

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int same_node(const struct objgraph_node *a, const struct objgraph_node *b)
{
	if (a->n_children != b->n_children || a->n_attrs != b->n_attrs ||
	    a->n_slots != b->n_slots || a->has_checkpoint_values != b->has_checkpoint_values ||
	    !same_str(a->saver_name, b->saver_name) ||
	    !same_str(a->saver_object_name, b->saver_object_name))
		return 0;
	for (size_t i = 0; i < a->n_children; i++)
		if (a->children[i].node_id != b->children[i].node_id ||
		    strcmp(a->children[i].local_name, b->children[i].local_name))
			return 0;
	for (size_t i = 0; i < a->n_attrs; i++)
		if (strcmp(a->attrs[i].name, b->attrs[i].name) ||
		    strcmp(a->attrs[i].full_name, b->attrs[i].full_name) ||
		    strcmp(a->attrs[i].checkpoint_key, b->attrs[i].checkpoint_key) ||
		    a->attrs[i].optional_restore != b->attrs[i].optional_restore)
			return 0;
	for (size_t i = 0; i < a->n_slots; i++)
		if (a->slots[i].original_variable_node_id !=
			    b->slots[i].original_variable_node_id ||
		    strcmp(a->slots[i].slot_name, b->slots[i].slot_name) ||
		    a->slots[i].slot_variable_node_id != b->slots[i].slot_variable_node_id)
			return 0;
	return 1;
}

/*
 * objgraph_serialize_tensor: the same bytes as a scalar string tensor (the
 * reader's decoder takes them back) with the CRC TensorFlow would store.
 */
static void check_tensor(const struct objgraph *g, const uint8_t *bytes, size_t len)
{
	char err[BUNDLE_ERR_MAX];
	const char *s = (const char *)bytes;
	uint8_t *t, *want;
	size_t tn, wn;
	uint32_t crc, want_crc;

	CHECK(objgraph_serialize_tensor(g, &t, &tn, &crc, err, sizeof(err)) == 0,
	      "serialize_tensor: %s", err);
	CHECK(bundle_string_encode(&s, &len, 1, &want, &wn) == 0, "string_encode");
	CHECK(tn == wn && !memcmp(t, want, tn),
	      "the tensor is not the string encoding of the graph");
	CHECK(bundle_tensor_crc(BUNDLE_DT_STRING, 1, want, wn, &want_crc) == 0 && crc == want_crc,
	      "the tensor's CRC differs");
	free(t);
	free(want);
}

static void check_roundtrip(const struct objgraph *g)
{
	char err[BUNDLE_ERR_MAX];
	uint8_t *once, *twice;
	size_t n1, n2;
	struct objgraph *back;

	CHECK(objgraph_serialize(g, &once, &n1, err, sizeof(err)) == 0, "serialize: %s", err);
	CHECK(objgraph_parse("once", once, n1, &back, err, sizeof(err)) == 0,
	      "our own bytes do not parse: %s", err);
	CHECK(back->n_nodes == g->n_nodes, "%zu nodes, then %zu", g->n_nodes, back->n_nodes);
	for (size_t i = 0; i < g->n_nodes; i++)
		CHECK(same_node(&g->nodes[i], &back->nodes[i]),
		      "node %zu changed in the round trip", i);
	CHECK(objgraph_serialize(back, &twice, &n2, err, sizeof(err)) == 0, "serialize again: %s",
	      err);
	CHECK(n1 == n2 && !memcmp(once, twice, n1), "serializing is not a fixed point");
	check_tensor(g, once, n1);
	objgraph_free(back);
	free(once);
	free(twice);
}

/* ------------------------------------------------------------ target */

static void check_graph(const struct objgraph *g, size_t size)
{
	char err[BUNDLE_ERR_MAX];
	struct objgraph_walk w;

	CHECK(objgraph_check(g, err, sizeof(err)) == 0, "check: %s", err);
	CHECK(objgraph_walk_init(&w, g, err, sizeof(err)) == 0, "walk: %s", err);
	CHECK(w.origin[0].via == OBJGRAPH_ROOT, "the root is not the root");
	check_names(&w, size);
	objgraph_walk_release(&w);
	check_roundtrip(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[BUNDLE_ERR_MAX] = "", small[9];
	struct objgraph *g = NULL, *g2 = NULL;
	int rc, rc2;

	rc = objgraph_parse("fuzz", data, size, &g, err, sizeof(err));
	rc2 = objgraph_parse("fuzz", data, size, &g2, small, sizeof(small));
	CHECK(rc == rc2, "rc %d with a big buffer, %d with a small one", rc, rc2);
	objgraph_free(g2);
	if (verbose)
		fprintf(stderr, "fuzz_objgraph: %zu bytes: %s\n", size, rc ? err : "ok");
	if (rc) {
		CHECK(rc == -EBADMSG || rc == -ENOTSUP || rc == -EFBIG || rc == -ENOMEM,
		      "unexpected code %d", rc);
		CHECK(err[0] && strlen(small) == sizeof(small) - 1,
		      "no message, or a short one in the small buffer");
		CHECK(!g, "out-parameter written on failure");
		return 0;
	}
	check_graph(g, size);
	objgraph_free(g);
	return 0;
}
