/*
 * objgraph.h - the object graph of a TF2 checkpoint: the serialized
 * TrackableObjectGraph that TensorFlow stores as the scalar string tensor
 * "_CHECKPOINTABLE_OBJECT_GRAPH" (checkpoint-format.md §6), in plain C.
 *
 * Node 0 is the root. Each node lists its children (named edges to other
 * nodes), its attributes (the tensors it saved, each with the bundle key it
 * was saved under), and, for an optimizer, its slot variables. TensorFlow
 * names an object by its first path in a breadth-first walk from the root
 * over the children edges, each local name escaped ('.' -> "..", '/' ->
 * ".S") and joined with '/'; an attribute's key is that path plus
 * "/.ATTRIBUTES/" and the escaped attribute name. Slot variables are not
 * children: they are named after their variable and their optimizer,
 * "<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<escaped slot name>".
 *
 * What a valid graph is (checked by objgraph_check, used everywhere below),
 * read off TensorFlow's restore code (python/checkpoint/restore.py,
 * checkpoint.py) and save code (save_util.py, util.py):
 * - at least one node, the root; every node id in [0, n_nodes);
 * - cycles and shared nodes are legal: a Keras model's layer or its
 *   optimizer is reachable along several paths and objects may point back
 *   at their parents; TensorFlow's walks keep a visited set, and so does
 *   objgraph_walk_init;
 * - no two children of one node share a local name (restore looks children
 *   up by name, so the second would be matched to the first one's object);
 *   an empty local name is legal (a Python dict key "" saves as one);
 * - a slot variable node is named once: it is not the root, not any node's
 *   child, and not the slot variable of two references (TensorFlow's saver
 *   refuses all three);
 * - every text field is UTF-8 (TensorFlow's proto parser rejects the graph
 *   otherwise) without NUL bytes (ours: keys and names are C strings).
 * Nodes unreachable from the root are legal; they get no name.
 *
 * Conventions as in bundle.h: 0 or a negative errno, a message in the
 * caller's (err, errlen) buffer (err may be NULL), out-parameters written
 * only on success. Nothing here keeps hidden state: functions on distinct
 * objects may run concurrently, and const ones on the same object too.
 */
#ifndef CKPTFS_OBJGRAPH_OBJGRAPH_H
#define CKPTFS_OBJGRAPH_OBJGRAPH_H

#include <stddef.h>
#include <stdint.h>

struct bundle_reader;

/* The bundle key of the graph tensor. */
#define OBJGRAPH_TENSOR_KEY "_CHECKPOINTABLE_OBJECT_GRAPH"

/*
 * protobuf's 2 GiB message limit, which TensorFlow cannot exceed when it
 * writes the graph; larger inputs are refused before anything is
 * allocated for them.
 */
#define OBJGRAPH_MAX_BYTES 0x7fffffff

/*
 * The memory bound of objgraph_parse (checkpoint-format.md §6.4). A graph
 * takes, parsed into one allocation, 72 bytes a node, 16 a child edge, 32
 * an attribute, 24 a slot reference and each string's bytes plus one
 * (each node's arrays aligned to 16); checking and walking it take
 * OBJGRAPH_WALK_BYTES_PER_NODE more a node and
 * OBJGRAPH_CHECK_BYTES_PER_CHILD a child edge. A graph whose total would
 * be over OBJGRAPH_MEMORY_PER_BYTE bytes per byte of its serialized form
 * (plus OBJGRAPH_MEMORY_SLACK) is refused from the counts alone, before
 * anything is allocated for it. TensorFlow's graphs take 3 to 6 bytes per
 * byte; a node of nothing is two bytes on the wire and 96 in memory, so a
 * graph of empty nodes is refused, and no accepted graph has more than
 * one node per 6 bytes.
 */
#define OBJGRAPH_MEMORY_PER_BYTE 16
#define OBJGRAPH_MEMORY_SLACK 4096
#define OBJGRAPH_WALK_BYTES_PER_NODE 24
#define OBJGRAPH_CHECK_BYTES_PER_CHILD 8

/* has_checkpoint_values when the field is absent (TF then infers it). */
#define OBJGRAPH_UNSET (-1)

/* An edge: ObjectReference. */
struct objgraph_child {
	int32_t node_id;
	const char *local_name;
};

/* A saved tensor of a node: SerializedTensor. */
struct objgraph_attr {
	const char *name;           /* "VARIABLE_VALUE", ".TENSORS", ... */
	const char *full_name;      /* TF1-style name, often "" */
	const char *checkpoint_key; /* the key in the bundle, as stored */
	int optional_restore;       /* 0 or 1 */
};

/* SlotVariableReference, listed on the optimizer's node. */
struct objgraph_slot {
	int32_t original_variable_node_id;
	const char *slot_name;
	int32_t slot_variable_node_id;
};

/* TrackableObject. Strings are never NULL except as said below. */
struct objgraph_node {
	size_t n_children;
	struct objgraph_child *children;
	size_t n_attrs;
	struct objgraph_attr *attrs;
	size_t n_slots;
	struct objgraph_slot *slots;
	/* registered_saver: both NULL when the field is absent */
	const char *saver_name;
	const char *saver_object_name;
	int has_checkpoint_values; /* 0, 1 or OBJGRAPH_UNSET */
};

/*
 * A graph. One returned by objgraph_parse or objgraph_read is a single
 * allocation (arrays and strings included) freed by objgraph_free; one a
 * caller builds for objgraph_serialize is the caller's, in whatever memory
 * it likes.
 */
struct objgraph {
	size_t n_nodes;
	struct objgraph_node *nodes;
};

/*
 * Check g against the rules at the top of this file. -EBADMSG (-EINVAL
 * for n_nodes > INT32_MAX) with a message naming the node and the field,
 * e.g. "node 3: child 1 'kernel' refers to node 9 of 5".
 */
int objgraph_check(const struct objgraph *g, char *err, size_t errlen);

/*
 * Parse serialized TrackableObjectGraph bytes and check the result. name
 * is for messages only. -EBADMSG if the bytes are not a TrackableObjectGraph
 * or the graph is invalid, -ENOTSUP if they carry fields this schema does
 * not know (rewriting would silently drop them), -EFBIG if the graph would
 * take more memory than OBJGRAPH_MEMORY_PER_BYTE allows (nothing is then
 * allocated), -EINVAL if len > OBJGRAPH_MAX_BYTES. buf is not kept. On
 * success *out is the caller's, freed with objgraph_free.
 */
int objgraph_parse(const char *name, const uint8_t *buf, size_t len, struct objgraph **out,
		   char *err, size_t errlen);

/* Free a graph from objgraph_parse or objgraph_read; NULL is ignored. */
void objgraph_free(struct objgraph *g);

/*
 * Serialize a checked graph as TensorFlow does (fields in number order,
 * proto3 defaults left out, present sub-messages written even when
 * empty): bytes TensorFlow wrote and objgraph_parse read come out
 * identical, unless TensorFlow's writer used a non-canonical field order
 * (as some older ones did). -EBADMSG/-EINVAL from objgraph_check, -ENOMEM.
 * On success *out is malloc'd (*len bytes) and the caller frees it.
 */
int objgraph_serialize(const struct objgraph *g, uint8_t **out, size_t *len, char *err,
		       size_t errlen);

/*
 * objgraph_serialize() as the bytes of the _CHECKPOINTABLE_OBJECT_GRAPH
 * tensor: a scalar string in TensorFlow's encoding (what objgraph_read()
 * reads back), with the CRC32C an index entry stores for it (unmasked) in
 * *crc. Memory: the result and a fixed scratch, whatever the graph's size.
 * -EINVAL over OBJGRAPH_MAX_BYTES. *out is malloc'd; the caller frees it.
 */
int objgraph_serialize_tensor(const struct objgraph *g, uint8_t **out, size_t *len, uint32_t *crc,
			      char *err, size_t errlen);

/*
 * The serialized graph stored in a checkpoint: the "_CHECKPOINTABLE_OBJECT_
 * GRAPH" tensor, which must be a scalar string, read with its CRC checked
 * and its string encoding (checkpoint-format.md §4.3) removed. -ENOENT if
 * the checkpoint has none (a TF1 name-based checkpoint), -EBADMSG if it is
 * not a well-formed scalar string, -EIO on a short read. On success *out is
 * malloc'd (*len bytes; *out non-NULL even for 0 bytes) and the caller
 * frees it. Safe to call concurrently on one reader.
 */
int objgraph_read_bytes(const struct bundle_reader *r, uint8_t **out, size_t *len, char *err,
			size_t errlen);

/* objgraph_read_bytes then objgraph_parse; *out is freed by objgraph_free. */
int objgraph_read(const struct bundle_reader *r, struct objgraph **out, char *err, size_t errlen);

/* ------------------------------------------------------------ naming */

/* How the breadth-first walk reached a node. */
enum objgraph_via {
	OBJGRAPH_UNREACHED = 0, /* no name */
	OBJGRAPH_ROOT,          /* node 0; its path is "" */
	OBJGRAPH_CHILD,         /* first found as from's children[index] */
	OBJGRAPH_SLOT,          /* from's slots[index] names it */
};

struct objgraph_origin {
	enum objgraph_via via;
	int32_t from; /* CHILD: the parent; SLOT: the optimizer's node */
	size_t index; /* into from's children[] (CHILD) or slots[] (SLOT) */
};

/*
 * The result of TensorFlow's naming walk: origin[i] says how node i got
 * its name. Children are visited in their stored order, which is the
 * order TensorFlow's saver walked them, so first paths are TensorFlow's.
 * A slot variable is named only if its variable and its optimizer were
 * reached as the root or a child (TensorFlow saves no other slots).
 */
struct objgraph_walk {
	const struct objgraph *graph;   /* borrowed; must outlive the walk */
	struct objgraph_origin *origin; /* owned; graph->n_nodes items */
};

/*
 * Check g (objgraph_check) and walk it. Memory: one origin per node plus a
 * queue of node ids. On success release w with objgraph_walk_release.
 * REQUIRES: g is not changed while w is in use.
 */
int objgraph_walk_init(struct objgraph_walk *w, const struct objgraph *g, char *err, size_t errlen);
void objgraph_walk_release(struct objgraph_walk *w);

/*
 * The object path of node as TensorFlow names it: "" for the root,
 * "layer_with_weights-0/kernel", "a.Sb..c" for a child named "a/b.c", or
 * a slot variable's "<var>/.OPTIMIZER_SLOT/<optimizer>/<slot>". -ENOENT
 * for an unnamed node, -EINVAL for a node id out of range. A path is at
 * most 4 x the serialized graph's size + 18 bytes (a child's at most 2 x:
 * its edges are distinct input bytes, each escaped to at most twice; a
 * slot's holds two of those). On success *out is malloc'd,
 * NUL-terminated, *len bytes long (may be NULL), and the caller frees it.
 */
int objgraph_path(const struct objgraph_walk *w, int32_t node, char **out, size_t *len, char *err,
		  size_t errlen);

/*
 * The checkpoint key TensorFlow generates for attribute attr of node:
 * "<path>/.ATTRIBUTES/<escaped attribute name>", where the name ".TENSORS"
 * stands for an empty suffix. Compare with attrs[attr].checkpoint_key to
 * see whether the stored key is the generated one. Errors and ownership as
 * objgraph_path; -EINVAL also for attr out of range.
 */
int objgraph_key(const struct objgraph_walk *w, int32_t node, size_t attr, char **out, size_t *len,
		 char *err, size_t errlen);

/* ------------------------------------------------------- local names */

/*
 * TensorFlow's escaping of a local name inside an object path
 * (escape_local_name): '.' becomes "..", '/' becomes ".S", every other
 * byte stays. An escaped name holds no '/', so names joined with '/' make
 * a path that splits back unambiguously.
 */

/* Bytes objgraph_escape_into() writes for name: at most 2 x strlen(name). */
size_t objgraph_escaped_len(const char *name);

/*
 * Write name escaped at dst, which has room for objgraph_escaped_len(name)
 * bytes; no NUL is added. Returns the byte after the last one written.
 */
char *objgraph_escape_into(char *dst, const char *name);

/*
 * name escaped, as a malloc'd NUL-terminated string the caller frees;
 * NULL when out of memory.
 */
char *objgraph_escape(const char *name);

/*
 * The local name the escaped path component s (len bytes, no '/') stands
 * for. -EINVAL for a '.' followed by neither '.' nor 'S', or at the end
 * (no local name escapes to that), -ENOMEM. On success *out is malloc'd,
 * NUL-terminated, and the caller frees it.
 */
int objgraph_unescape(const char *s, size_t len, char **out);

#endif /* CKPTFS_OBJGRAPH_OBJGRAPH_H */
