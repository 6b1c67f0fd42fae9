/*
 * crc32c.h - CRC32C helpers beyond the public bundle_crc32c() (private to
 * bundle/).
 */
#ifndef CKPTFS_BUNDLE_CRC32C_H
#define CKPTFS_BUNDLE_CRC32C_H

#include <stdint.h>

/*
 * bundle_crc32c(crc, buf, n) for a buffer of n zero bytes, in O(log n)
 * time and no memory: checksums terabyte-sized sparse tensors without
 * reading them.
 */
uint32_t bundle_crc32c_zeros(uint32_t crc, uint64_t n);

#endif
