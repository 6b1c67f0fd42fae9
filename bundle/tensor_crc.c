/*
 * tensor_crc.c - the checksum TensorFlow stores for a tensor's encoding
 * (docs/checkpoint-format.md §4), and the DT_STRING encoder (and the
 * header of a one-string tensor, for callers that write its bytes).
 *
 *   numeric  CRC32C(bytes)
 *   string   varint64 len[N] | u32 Mask(C1) | bytes...
 *            C1 = CRC32C(len[i] as u32 LE, or u64 LE when > 0xFFFFFFFF)
 *            entry crc = CRC32C continued from C1 over the stored Mask(C1)
 *            bytes and then the element bytes
 *   variant  per element: varint64 len | proto[len] | u32 Mask(running)
 *            running crc fed len as u64 LE, the proto, the stored u32
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <stdlib.h>

#include "bundle/coding.h"

static uint32_t crc_len(uint32_t crc, uint64_t len)
{
	uint8_t b[8];

	if (len > 0xFFFFFFFFu) {
		coding_put_fixed64(b, len);
		return bundle_crc32c(crc, b, 8);
	}
	coding_put_fixed32(b, (uint32_t)len);
	return bundle_crc32c(crc, b, 4);
}

static int string_crc(int64_t n, const uint8_t *p, const uint8_t *end, uint32_t *out)
{
	const uint8_t *lens = p;
	uint32_t crc = 0;
	uint64_t total = 0, len;

	for (int64_t i = 0; i < n; i++) {
		p = coding_get_varint64(p, end, &len);
		if (!p || len > (uint64_t)(end - lens))
			return -EBADMSG;
		crc = crc_len(crc, len);
		total += len;
	}
	if (end - p < 4 || coding_get_fixed32(p) != bundle_crc_mask(crc))
		return -EBADMSG; /* "The length checksum does not match" */
	crc = bundle_crc32c(crc, p, 4);
	p += 4;
	if (total > (uint64_t)(end - p))
		return -EBADMSG;
	*out = bundle_crc32c(crc, p, (size_t)total);
	return 0;
}

static int variant_crc(int64_t n, const uint8_t *p, const uint8_t *end, uint32_t *out)
{
	uint32_t crc = 0;
	uint64_t len;
	uint8_t b[8];

	for (int64_t i = 0; i < n; i++) {
		p = coding_get_varint64(p, end, &len);
		if (!p || len > (uint64_t)(end - p) || end - p - (int64_t)len < 4)
			return -EBADMSG;
		coding_put_fixed64(b, len);
		crc = bundle_crc32c(crc, b, 8);
		crc = bundle_crc32c(crc, p, (size_t)len);
		p += len;
		crc = bundle_crc32c(crc, p, 4);
		p += 4;
	}
	*out = crc;
	return 0;
}

int bundle_tensor_crc(int dtype, int64_t n_elements, const uint8_t *buf, size_t len,
		      uint32_t *crc_out)
{
	switch (dtype) {
	case BUNDLE_DT_STRING: return string_crc(n_elements, buf, buf + len, crc_out);
	case BUNDLE_DT_VARIANT: return variant_crc(n_elements, buf, buf + len, crc_out);
	default: *crc_out = bundle_crc32c(0, buf, len); return 0;
	}
}

int bundle_string_encode(const char *const *strs, const size_t *lens, size_t n, uint8_t **out,
			 size_t *len)
{
	struct bytebuf b = { 0 };
	uint32_t crc = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		bytebuf_put_varint64(&b, lens[i]);
		crc = crc_len(crc, lens[i]);
	}
	bytebuf_put_fixed32(&b, bundle_crc_mask(crc));
	for (size_t i = 0; i < n; i++)
		bytebuf_append(&b, strs[i], lens[i]);
	if (b.err) {
		rc = b.err;
		bytebuf_release(&b);
		return rc;
	}
	*out = bytebuf_detach(&b, len);
	if (!*out) /* n == 0 still has 4 bytes, so never NULL on success */
		return -ENOMEM;
	return 0;
}

size_t bundle_string_head(uint64_t len, uint8_t *head)
{
	size_t h = coding_put_varint64(head, len);

	coding_put_fixed32(head + h, bundle_crc_mask(crc_len(0, len)));
	return h + 4;
}

int bundle_string_scalar(const uint8_t *buf, size_t size, size_t *off, size_t *len)
{
	uint64_t n;
	const uint8_t *p = coding_get_varint64(buf, buf + size, &n);

	if (!p || (size_t)(buf + size - p) < 4 || n > (uint64_t)(buf + size - p - 4))
		return -EBADMSG;
	*off = (size_t)(p - buf) + 4;
	*len = (size_t)n;
	return 0;
}
