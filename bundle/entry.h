/*
 * entry.h - BundleHeaderProto / BundleEntryProto <-> plain C structs. The
 * only place that includes protobuf-c generated headers: protobuf-c types
 * never leave entry.c.
 */
#ifndef CKPTFS_BUNDLE_ENTRY_H
#define CKPTFS_BUNDLE_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"

struct util_arena;
struct bytebuf;

/* The value of the "" key. */
struct bundle_header {
	int32_t num_shards;
	int endianness; /* 0 little, 1 big */
	int32_t producer;
	int32_t min_consumer;
	int bad_consumer_is_us; /* 1 if our consumer version is listed bad */
};

/* What TensorFlow writes: one shard, little-endian, producer 1. */
#define BUNDLE_PRODUCER 1
#define BUNDLE_CONSUMER 1

/* -EBADMSG if val is not a parseable BundleHeaderProto. */
int header_decode(const uint8_t *val, size_t len, struct bundle_header *h);
void header_encode(int32_t num_shards, struct bytebuf *out);

/*
 * Decode and validate an entry value: a known dtype, a valid shape (rank
 * <= 254, dims >= 0, no overflow), non-negative shard/offset/size, a size
 * that matches the shape for fixed-size dtypes, slices of the right rank.
 * dims and slices are allocated from a; e->key is left for the caller.
 * Returns 0, -EBADMSG or -ENOTSUP (unknown dtype) with a message that
 * starts with the problem (the caller prefixes file and key).
 */
int entry_decode(const uint8_t *val, size_t len, struct util_arena *a, struct bundle_entry *e,
		 char *err, size_t errlen);

/* Append e serialized exactly as TensorFlow's C++ protobuf would. */
void entry_encode(const struct bundle_entry *e, struct bytebuf *out);

#endif
