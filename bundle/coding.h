/*
 * coding.h - little-endian fixed-width integers, LEB128 varints and a
 * growable byte buffer, the primitives of the SSTable and proto layers.
 */
#ifndef CKPTFS_BUNDLE_CODING_H
#define CKPTFS_BUNDLE_CODING_H

#include <stddef.h>
#include <stdint.h>

#define CODING_MAX_VARINT32 5
#define CODING_MAX_VARINT64 10

void coding_put_fixed32(uint8_t *dst, uint32_t v);
void coding_put_fixed64(uint8_t *dst, uint64_t v);
uint32_t coding_get_fixed32(const uint8_t *p);
uint64_t coding_get_fixed64(const uint8_t *p);

/* Encode v at dst (room for CODING_MAX_VARINT* bytes); return bytes used. */
size_t coding_put_varint32(uint8_t *dst, uint32_t v);
size_t coding_put_varint64(uint8_t *dst, uint64_t v);

/*
 * Decode a varint from [p, limit). Return the byte after it, or NULL if it
 * is truncated or longer than the type allows (5 / 10 bytes, or a 10th
 * byte > 1). *v is written only on success.
 */
const uint8_t *coding_get_varint32(const uint8_t *p, const uint8_t *limit, uint32_t *v);
const uint8_t *coding_get_varint64(const uint8_t *p, const uint8_t *limit, uint64_t *v);

/*
 * A growable byte buffer with a sticky allocation error: after a failed
 * append, err is -ENOMEM and every later append is a no-op, so builders
 * check once at the end. Zero-initialise ({0}) before use.
 */
struct bytebuf {
	uint8_t *data; /* owned; malloc'd */
	size_t len;
	size_t cap;
	int err;
};

void bytebuf_append(struct bytebuf *b, const void *p, size_t n);
void bytebuf_put_fixed32(struct bytebuf *b, uint32_t v);
void bytebuf_put_varint32(struct bytebuf *b, uint32_t v);
void bytebuf_put_varint64(struct bytebuf *b, uint64_t v);
/* Free the buffer's memory and zero it. */
void bytebuf_release(struct bytebuf *b);
/* Hand the bytes to the caller (who frees them) and zero the buffer. */
uint8_t *bytebuf_detach(struct bytebuf *b, size_t *len);

#endif
