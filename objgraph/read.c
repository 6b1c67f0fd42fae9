/*
 * read.c - the serialized object graph out of a checkpoint: the
 * scalar DT_STRING tensor "_CHECKPOINTABLE_OBJECT_GRAPH", whose bytes are
 * (checkpoint-format.md §4.3, one element)
 *
 *   varint64 len | u32 Mask(CRC32C(len as u32 LE)) | len bytes of proto
 */
#include "objgraph/objgraph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "objgraph/internal.h"

/* The encoding of the largest graph: a 5-byte varint, 4-byte checksum. */
#define MAX_ENCODED ((int64_t)OBJGRAPH_MAX_BYTES + 5 + 4)

static int check_entry(const struct bundle_reader *r, const struct bundle_entry *e, char *err,
		       size_t errlen)
{
	if (!e)
		return objgraph_errf(err, errlen, -ENOENT,
				     "'%s': no %s tensor (not an object-based checkpoint)",
				     bundle_prefix(r), OBJGRAPH_TENSOR_KEY);
	if (e->dtype != BUNDLE_DT_STRING || e->rank != 0 || e->n_slices)
		return objgraph_errf(err, errlen, -EBADMSG,
				     "'%s': %s is a %s tensor of rank %d, not a scalar string",
				     bundle_prefix(r), OBJGRAPH_TENSOR_KEY,
				     bundle_dtype_name(e->dtype), e->rank);
	if (e->size > MAX_ENCODED)
		return objgraph_errf(err, errlen, -EBADMSG,
				     "'%s': %s is %lld bytes, over protobuf's 2 GiB limit",
				     bundle_prefix(r), OBJGRAPH_TENSOR_KEY, (long long)e->size);
	return 0;
}

/* Strip the length and its checksum, moving the proto to the start of buf. */
static int unwrap(const struct bundle_reader *r, uint8_t *buf, size_t size, size_t *len, char *err,
		  size_t errlen)
{
	size_t off, n;

	if (bundle_string_scalar(buf, size, &off, &n))
		return objgraph_errf(err, errlen, -EBADMSG,
				     "'%s': %s is not a well-formed one-element string",
				     bundle_prefix(r), OBJGRAPH_TENSOR_KEY);
	memmove(buf, buf + off, n);
	*len = n;
	return 0;
}

int objgraph_read_bytes(const struct bundle_reader *r, uint8_t **out, size_t *len, char *err,
			size_t errlen)
{
	struct bundle_entry found;
	const struct bundle_entry *e;
	uint8_t *buf;
	int rc;

	e = bundle_lookup(r, OBJGRAPH_TENSOR_KEY, strlen(OBJGRAPH_TENSOR_KEY), &found);
	rc = check_entry(r, e, err, errlen);
	if (rc)
		return rc;
	/* the reader checked at open that e lies inside its shard */
	buf = malloc((size_t)e->size + 1);
	if (!buf)
		return objgraph_errf(err, errlen, -ENOMEM, "out of memory");
	rc = bundle_read_tensor(r, e, buf, err, errlen);
	if (!rc)
		rc = unwrap(r, buf, (size_t)e->size, len, err, errlen);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

int objgraph_read(const struct bundle_reader *r, struct objgraph **out, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	int rc;

	rc = objgraph_read_bytes(r, &buf, &len, err, errlen);
	if (rc)
		return rc;
	rc = objgraph_parse(bundle_prefix(r), buf, len, out, err, errlen);
	free(buf);
	return rc;
}
