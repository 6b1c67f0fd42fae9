/*
 * entry.c - BundleHeaderProto and BundleEntryProto (docs/checkpoint-format.md
 * §3) to and from struct bundle_header / struct bundle_entry.
 *
 * protobuf-c serializes fields in field-number order and omits proto3
 * scalars equal to zero, like C++; a set sub-message is emitted even when
 * empty (a scalar's shape is "12 00"), and a set oneof even when zero (an
 * extent's length 0). That is what makes re-encoded indexes byte-identical.
 */
#include "bundle/entry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/coding.h"
#include "bundle/internal.h"
#include "tensor_bundle.pb-c.h"
#include "util/util.h"

typedef Tensorflow__BundleEntryProto EntryProto;
typedef Tensorflow__TensorSliceProto SliceProto;
typedef Tensorflow__TensorSliceProto__Extent ExtentProto;
typedef Tensorflow__TensorShapeProto ShapeProto;
typedef Tensorflow__TensorShapeProto__Dim DimProto;

int header_decode(const uint8_t *val, size_t len, struct bundle_header *h)
{
	Tensorflow__BundleHeaderProto *p;

	p = tensorflow__bundle_header_proto__unpack(NULL, len, val);
	if (!p)
		return -EBADMSG;
	memset(h, 0, sizeof(*h));
	h->num_shards = p->num_shards;
	h->endianness = p->endianness;
	if (p->version) {
		h->producer = p->version->producer;
		h->min_consumer = p->version->min_consumer;
		for (size_t i = 0; i < p->version->n_bad_consumers; i++)
			if (p->version->bad_consumers[i] == BUNDLE_CONSUMER)
				h->bad_consumer_is_us = 1;
	}
	tensorflow__bundle_header_proto__free_unpacked(p, NULL);
	return 0;
}

void header_encode(int32_t num_shards, struct bytebuf *out)
{
	Tensorflow__BundleHeaderProto h = TENSORFLOW__BUNDLE_HEADER_PROTO__INIT;
	Tensorflow__VersionDef v = TENSORFLOW__VERSION_DEF__INIT;
	uint8_t buf[64];
	size_t n;

	v.producer = BUNDLE_PRODUCER;
	h.num_shards = num_shards;
	h.version = &v;
	n = tensorflow__bundle_header_proto__pack(&h, buf);
	bytebuf_append(out, buf, n);
}

static int decode_shape(const ShapeProto *s, struct util_arena *a, struct bundle_entry *e,
			char *err, size_t errlen)
{
	e->rank = 0;
	e->dims = NULL;
	if (!s)
		return 0;
	if (s->n_dim > BUNDLE_MAX_RANK)
		return bundle_errf(err, errlen, -EBADMSG, "invalid tensor shape (rank %zu > %d)",
				   s->n_dim, BUNDLE_MAX_RANK);
	e->rank = (int)s->n_dim;
	/* a scalar's dims: 1 byte, so the pointer is not NULL */
	e->dims = util_arena_alloc(a, s->n_dim ? s->n_dim * sizeof(int64_t) : 1);
	if (!e->dims)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_dim; i++)
		e->dims[i] = s->dim[i]->size;
	for (int i = 0; i < e->rank; i++)
		if (e->dims[i] < 0)
			return bundle_errf(err, errlen, -EBADMSG,
					   "invalid tensor shape (dimension %d is %lld)", i,
					   (long long)e->dims[i]);
	if (bundle_num_elements(e->rank, e->dims) < 0)
		return bundle_errf(err, errlen, -EBADMSG,
				   "invalid tensor shape (more than 2^63 elements)");
	return 0;
}

static int decode_slices(const EntryProto *p, struct util_arena *a, struct bundle_entry *e,
			 char *err, size_t errlen)
{
	e->n_slices = p->n_slices;
	e->slices = NULL;
	if (!p->n_slices)
		return 0;
	e->slices = util_arena_alloc(a, p->n_slices * sizeof(*e->slices));
	if (!e->slices)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_slices; i++) {
		const SliceProto *sp = p->slices[i];
		struct bundle_slice *s = &e->slices[i];

		if (sp->n_extent != (size_t)e->rank)
			return bundle_errf(err, errlen, -EBADMSG,
					   "slice %zu has rank %zu, tensor has rank %d", i,
					   sp->n_extent, e->rank);
		s->rank = e->rank;
		s->extents =
			util_arena_alloc(a, sp->n_extent ? sp->n_extent * sizeof(*s->extents) : 1);
		if (!s->extents)
			return -ENOMEM;
		for (size_t d = 0; d < sp->n_extent; d++) {
			const ExtentProto *x = sp->extent[d];
			int has_len = x->has_length_case ==
				      TENSORFLOW__TENSOR_SLICE_PROTO__EXTENT__HAS_LENGTH_LENGTH;

			s->extents[d].start = x->start;
			s->extents[d].length = has_len ? x->length : -1;
			if (!has_len && x->start != 0)
				return bundle_errf(
					err, errlen, -EBADMSG,
					"slice %zu has an invalid extent in dimension %zu (start %lld without a length)",
					i, d, (long long)x->start);
			if (x->start < 0 || (has_len && x->length < 0))
				return bundle_errf(
					err, errlen, -EBADMSG,
					"slice %zu has an invalid extent in dimension %zu (start %lld, length %lld)",
					i, d, (long long)x->start,
					has_len ? (long long)x->length : 0LL);
		}
	}
	return 0;
}

/* Fixed-size dtypes must hold exactly elements x element size bytes. */
static int check_size(const struct bundle_entry *e, char *err, size_t errlen)
{
	int esize = bundle_dtype_size(e->dtype);
	int64_t n = bundle_num_elements(e->rank, e->dims);

	/* Sub-byte types (int4 .. float4) have no settled on-disk size. */
	if (esize <= 0 || e->dtype >= 29 || e->n_slices)
		return 0;
	if (n > INT64_MAX / esize || n * esize != e->size)
		return bundle_errf(err, errlen, -EBADMSG,
				   "invalid size %lld for a %s tensor of %lld elements",
				   (long long)e->size, bundle_dtype_name(e->dtype), (long long)n);
	return 0;
}

static int check_fields(const EntryProto *p, char *err, size_t errlen)
{
	const char *name = bundle_dtype_name((int)p->dtype);

	if (!name)
		return bundle_errf(err, errlen, -ENOTSUP, "unknown dtype %d", (int)p->dtype);
	/* known to TensorFlow, but never saved in a checkpoint (resource) */
	if (bundle_dtype_size((int)p->dtype) < 0)
		return bundle_errf(err, errlen, -ENOTSUP, "unsupported dtype %d (%s)",
				   (int)p->dtype, name);
	if (p->shard_id < 0)
		return bundle_errf(err, errlen, -EBADMSG, "negative shard_id %d", (int)p->shard_id);
	if (p->offset < 0 || p->size < 0)
		return bundle_errf(err, errlen, -EBADMSG, "negative %s %lld",
				   p->offset < 0 ? "offset" : "size",
				   (long long)(p->offset < 0 ? p->offset : p->size));
	return 0;
}

int entry_decode(const uint8_t *val, size_t len, struct util_arena *a, struct bundle_entry *e,
		 char *err, size_t errlen)
{
	EntryProto *p = tensorflow__bundle_entry_proto__unpack(NULL, len, val);
	int rc;

	if (!p)
		return bundle_errf(err, errlen, -EBADMSG,
				   "entry is not a parseable BundleEntryProto");
	rc = check_fields(p, err, errlen);
	if (rc == 0) {
		e->dtype = (int)p->dtype;
		e->shard_id = p->shard_id;
		e->offset = p->offset;
		e->size = p->size;
		e->crc32c = p->crc32c;
		rc = decode_shape(p->shape, a, e, err, errlen);
	}
	if (rc == 0)
		rc = decode_slices(p, a, e, err, errlen);
	if (rc == 0)
		rc = check_size(e, err, errlen);
	tensorflow__bundle_entry_proto__free_unpacked(p, NULL);
	if (rc == -ENOMEM)
		bundle_errf(err, errlen, rc, "out of memory");
	return rc;
}

/*
 * Encoding builds the proto on the stack and in one scratch allocation for
 * the pointer arrays protobuf-c wants, then packs it.
 */
struct entry_scratch {
	DimProto *dims;
	DimProto **dimp;
	SliceProto *slices;
	SliceProto **slicep;
	ExtentProto *extents;
	ExtentProto **extentp;
};

/* Most entries: small rank, no slices. Those need no heap at all. */
#define SCRATCH_STACK_RANK 16

struct entry_stack {
	DimProto dims[SCRATCH_STACK_RANK];
	DimProto *dimp[SCRATCH_STACK_RANK];
};

static int scratch_alloc(struct entry_scratch *s, const struct bundle_entry *e,
			 struct entry_stack *st)
{
	size_t nx = 0;

	if (e->rank <= SCRATCH_STACK_RANK && e->n_slices == 0) {
		s->dims = st->dims;
		s->dimp = st->dimp;
		return 0;
	}

	for (size_t i = 0; i < e->n_slices; i++)
		nx += (size_t)e->slices[i].rank;
	s->dims = calloc((size_t)e->rank + 1, sizeof(*s->dims));
	s->dimp = calloc((size_t)e->rank + 1, sizeof(*s->dimp));
	s->slices = calloc(e->n_slices + 1, sizeof(*s->slices));
	s->slicep = calloc(e->n_slices + 1, sizeof(*s->slicep));
	s->extents = calloc(nx + 1, sizeof(*s->extents));
	s->extentp = calloc(nx + 1, sizeof(*s->extentp));
	if (!s->dims || !s->dimp || !s->slices || !s->slicep || !s->extents || !s->extentp)
		return -ENOMEM;
	return 0;
}

static void scratch_free(struct entry_scratch *s, struct entry_stack *st)
{
	if (s->dims != st->dims) {
		free(s->dims);
		free(s->dimp);
	}
	free(s->slices);
	free(s->slicep);
	free(s->extents);
	free(s->extentp);
}

static void fill_slices(EntryProto *p, const struct bundle_entry *e, struct entry_scratch *s)
{
	size_t x = 0;

	for (size_t i = 0; i < e->n_slices; i++) {
		const struct bundle_slice *sl = &e->slices[i];

		tensorflow__tensor_slice_proto__init(&s->slices[i]);
		s->slices[i].n_extent = (size_t)sl->rank;
		s->slices[i].extent = &s->extentp[x];
		for (int d = 0; d < sl->rank; d++, x++) {
			tensorflow__tensor_slice_proto__extent__init(&s->extents[x]);
			s->extents[x].start = sl->extents[d].start;
			if (sl->extents[d].length >= 0) {
				s->extents[x].has_length_case =
					TENSORFLOW__TENSOR_SLICE_PROTO__EXTENT__HAS_LENGTH_LENGTH;
				s->extents[x].length = sl->extents[d].length;
			}
			s->extentp[x] = &s->extents[x];
		}
		s->slicep[i] = &s->slices[i];
	}
	p->n_slices = e->n_slices;
	p->slices = s->slicep;
}

void entry_encode(const struct bundle_entry *e, struct bytebuf *out)
{
	EntryProto p = TENSORFLOW__BUNDLE_ENTRY_PROTO__INIT;
	ShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
	struct entry_scratch s = { 0 };
	struct entry_stack st;
	uint8_t small[256], *buf = small;
	size_t n;

	if (scratch_alloc(&s, e, &st) < 0) {
		out->err = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < e->rank; i++) {
		tensorflow__tensor_shape_proto__dim__init(&s.dims[i]);
		s.dims[i].size = e->dims[i];
		s.dimp[i] = &s.dims[i];
	}
	shape.n_dim = (size_t)e->rank;
	shape.dim = s.dimp;
	p.dtype = (Tensorflow__DataType)e->dtype;
	p.shape = &shape; /* always present, as TensorFlow writes it */
	if (!e->n_slices) {
		p.shard_id = e->shard_id;
		p.offset = e->offset;
		p.size = e->size;
		p.crc32c = e->crc32c;
	}
	fill_slices(&p, e, &s);
	n = tensorflow__bundle_entry_proto__get_packed_size(&p);
	if (n > sizeof(small) && !(buf = malloc(n))) {
		out->err = -ENOMEM;
		goto out;
	}
	tensorflow__bundle_entry_proto__pack(&p, buf);
	bytebuf_append(out, buf, n);
	if (buf != small)
		free(buf);
out:
	scratch_free(&s, &st);
}

int bundle_entry_encode(const struct bundle_entry *e, uint8_t **out, size_t *len)
{
	struct bytebuf b = { 0 };
	int rc;

	entry_encode(e, &b);
	if (b.err) {
		rc = b.err;
		bytebuf_release(&b);
		return rc;
	}
	*out = bytebuf_detach(&b, len);
	return 0;
}
