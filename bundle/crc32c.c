/*
 * crc32c.c - TensorFlow's CRC32C of tensors and blocks, and its masking
 * (docs/checkpoint-format.md §2.3, §9.1):
 *
 *   crc32c  util_crc32c (util/crc32c.c: ISA-L)
 *   mask    ((c >> 15) | (c << 17)) + 0xA282EAD8
 */
#include "bundle/bundle.h"

#include "util/util.h"

#define CRC_MASK_DELTA 0xa282ead8u

uint32_t bundle_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return util_crc32c(crc, buf, len);
}

/*
 * TF stores crcs masked because a crc computed over data that itself
 * contains crcs is weak; rotating and adding a constant breaks that.
 */
uint32_t bundle_crc_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + CRC_MASK_DELTA; }

uint32_t bundle_crc_unmask(uint32_t masked)
{
	const uint32_t rot = masked - CRC_MASK_DELTA;

	return (rot >> 17) | (rot << 15);
}
