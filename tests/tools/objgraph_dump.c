/*
 * objgraph_dump.c - test tool for the TF2 object graph (objgraph/objgraph.h),
 * driven by tests/integration/test_objgraph_tf.py:
 *
 *   objgraph_dump CKPT              the graph as text, below
 *   objgraph_dump --raw CKPT        the stored graph bytes, to stdout
 *   objgraph_dump --serialize CKPT  the graph parsed and serialized again
 *   objgraph_dump --proto FILE ...  FILE holds graph bytes instead (any mode)
 *
 * Text: one line per item, a tag and a JSON array, so a test can read it
 * with json.loads and a person can read it as is:
 *   nodes N
 *   node [id, "root"|"child"|"slot"|"unreached", path or null]
 *   child [node_id, local_name]
 *   attr [name, generated key or null, stored checkpoint_key, full_name]
 *   slot [original_variable_node_id, slot_name, slot_variable_node_id]
 *   saver [name, object_name]
 *   has_checkpoint_values true|false
 * Exit status 0, or 1 with the library's message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "objgraph/objgraph.h"

/* A JSON string: the graph is valid UTF-8, so only escapes are needed. */
static void put_json(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *via_name(enum objgraph_via v)
{
	static const char *const names[] = { "unreached", "root", "child", "slot" };

	return names[v];
}

/* path and key are NULL when the node has no name. */
static void dump_node(const struct objgraph_walk *w, int32_t id, char *err, size_t errlen)
{
	const struct objgraph_node *n = &w->graph->nodes[id];
	char *s = NULL;

	objgraph_path(w, id, &s, NULL, err, errlen);
	printf("node [%d, \"%s\", ", (int)id, via_name(w->origin[id].via));
	s ? put_json(s) : (void)fputs("null", stdout);
	printf("]\n");
	free(s);
	for (size_t i = 0; i < n->n_children; i++) {
		printf("child [%d, ", (int)n->children[i].node_id);
		put_json(n->children[i].local_name);
		printf("]\n");
	}
	for (size_t i = 0; i < n->n_attrs; i++) {
		s = NULL;
		objgraph_key(w, id, i, &s, NULL, err, errlen);
		printf("attr [");
		put_json(n->attrs[i].name);
		printf(", ");
		s ? put_json(s) : (void)fputs("null", stdout);
		printf(", ");
		put_json(n->attrs[i].checkpoint_key);
		printf(", ");
		put_json(n->attrs[i].full_name);
		printf("]\n");
		free(s);
	}
	for (size_t i = 0; i < n->n_slots; i++) {
		printf("slot [%d, ", (int)n->slots[i].original_variable_node_id);
		put_json(n->slots[i].slot_name);
		printf(", %d]\n", (int)n->slots[i].slot_variable_node_id);
	}
	if (n->saver_name) {
		printf("saver [");
		put_json(n->saver_name);
		printf(", ");
		put_json(n->saver_object_name);
		printf("]\n");
	}
	if (n->has_checkpoint_values != OBJGRAPH_UNSET)
		printf("has_checkpoint_values %s\n", n->has_checkpoint_values ? "true" : "false");
}

static int dump_text(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct objgraph_walk w;
	struct objgraph *g;
	int rc;

	rc = objgraph_parse("graph", buf, len, &g, err, errlen);
	if (rc)
		return rc;
	rc = objgraph_walk_init(&w, g, err, errlen);
	if (rc == 0) {
		printf("nodes %zu\n", g->n_nodes);
		for (size_t i = 0; i < g->n_nodes; i++)
			dump_node(&w, (int32_t)i, err, errlen);
		objgraph_walk_release(&w);
	}
	objgraph_free(g);
	return rc;
}

static int dump_serialized(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct objgraph *g;
	uint8_t *out;
	size_t n;
	int rc;

	rc = objgraph_parse("graph", buf, len, &g, err, errlen);
	if (rc)
		return rc;
	rc = objgraph_serialize(g, &out, &n, err, errlen);
	objgraph_free(g);
	if (rc)
		return rc;
	fwrite(out, 1, n, stdout);
	free(out);
	return 0;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *p;
	size_t n = 0, cap = 0, got;
	int rc = 0;

	if (!f)
		return -1;
	do {
		if (n == cap) {
			p = realloc(buf, cap = cap * 2 + 4096);
			if (!p) {
				rc = -1;
				break;
			}
			buf = p;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got);
	if (ferror(f))
		rc = -1;
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int load(const char *path, int proto, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	struct bundle_reader *r;
	int rc;

	if (proto) {
		if (read_file(path, buf, len) == 0)
			return 0;
		snprintf(err, errlen, "cannot read '%s'", path);
		return -1;
	}
	rc = bundle_open(path, &r, err, errlen);
	if (rc)
		return rc;
	rc = objgraph_read_bytes(r, buf, len, err, errlen);
	bundle_close(r);
	return rc;
}

int main(int argc, char **argv)
{
	char err[BUNDLE_ERR_MAX] = "";
	const char *mode = "text";
	int proto = 0, rc, i;
	uint8_t *buf;
	size_t len;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--proto"))
			proto = 1;
		else
			mode = argv[i] + 2;
	}
	if (argc < 2 ||
	    (strcmp(mode, "text") && strcmp(mode, "raw") && strcmp(mode, "serialize"))) {
		fprintf(stderr, "usage: objgraph_dump [--raw|--serialize] [--proto] CKPT|FILE\n");
		return 2;
	}
	rc = load(argv[argc - 1], proto, &buf, &len, err, sizeof(err));
	if (rc == 0) {
		if (!strcmp(mode, "raw"))
			fwrite(buf, 1, len, stdout);
		else if (!strcmp(mode, "serialize"))
			rc = dump_serialized(buf, len, err, sizeof(err));
		else
			rc = dump_text(buf, len, err, sizeof(err));
		free(buf);
	}
	if (rc)
		fprintf(stderr, "objgraph_dump: %s\n", err);
	return rc ? 1 : 0;
}
