/*
 * crc32c.c - CRC32C (Castagnoli) and TensorFlow's crc masking
 * (docs/checkpoint-format.md §2.3, §9.1).
 *
 *   crc32c  reflected poly 0x82F63B78, init and final xor 0xFFFFFFFF
 *           crc32c("123456789") = E3069283
 *   mask    ((c >> 15) | (c << 17)) + 0xA282EAD8
 *
 * The byte loop is ISA-L's crc32_iscsi (SSE4.2/PCLMUL when the CPU has
 * them). Runs of zeros are checksummed without touching memory, by
 * polynomial arithmetic modulo P, for holes in sparse data files.
 */
#include "bundle/crc32c.h"

#include "bundle/bundle.h"

#include <isa-l/crc.h>

/* The Castagnoli polynomial, bit-reflected, x^32 term implied. */
#define CRC32C_POLY 0x82f63b78u
#define CRC_MASK_DELTA 0xa282ead8u

/* crc32_iscsi takes an int length: feed it at most this much at a time. */
#define ISAL_CHUNK ((size_t)1 << 30)

/*
 * crc32_iscsi neither inverts its seed nor its result: it is the bare
 * register update. The usual CRC32C inverts both, so a finished crc is
 * turned back into a register by ~, and the register out of ISA-L into a
 * finished crc the same way. That also makes crc(a || b) equal
 * bundle_crc32c(bundle_crc32c(0, a), b), which TF's Extend relies on.
 */
uint32_t bundle_crc32c(uint32_t crc, const void *buf, size_t len)
{
	/* ISA-L's prototype lacks const; it only reads the buffer. */
	unsigned char *p = (unsigned char *)(uintptr_t)buf;
	uint32_t reg = ~crc;

	while (len > 0) {
		const size_t n = len < ISAL_CHUNK ? len : ISAL_CHUNK;

		reg = crc32_iscsi(p, (int)n, reg);
		p += n;
		len -= n;
	}
	return ~reg;
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

/*
 * Polynomials over GF(2) of degree < 32, in the reflected layout the crc
 * register uses: bit 31 is the x^0 coefficient, bit 0 the x^31 one. So
 * multiplying by x is a right shift, folding x^32 back in with the poly.
 */
static uint32_t times_x(uint32_t a) { return (a >> 1) ^ ((a & 1) ? CRC32C_POLY : 0); }

/* a * b mod P, schoolbook: add b * x^k for every x^k present in a. */
static uint32_t mulmod(uint32_t a, uint32_t b)
{
	uint32_t prod = 0;

	for (int k = 0; k < 32; k++) {
		if (a & (0x80000000u >> k))
			prod ^= b;
		b = times_x(b);
	}
	return prod;
}

/*
 * Feeding a zero byte to the register multiplies it by x^8 mod P, so n
 * zero bytes multiply it by x^(8n) mod P: square-and-multiply over the
 * bits of n, 64 rounds at most whatever n is.
 */
uint32_t bundle_crc32c_zeros(uint32_t crc, uint64_t n)
{
	uint32_t factor = 0x80000000u;     /* x^0 */
	uint32_t power = 0x80000000u >> 8; /* x^8: one zero byte */

	while (n) {
		if (n & 1)
			factor = mulmod(factor, power);
		power = mulmod(power, power);
		n >>= 1;
	}
	return ~mulmod(~crc, factor);
}
