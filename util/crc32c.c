/*
 * crc32c.c - CRC32C (Castagnoli), the checksum of TensorFlow's tensors
 * and blocks (docs/checkpoint-format.md §2.3): reflected poly 0x82F63B78,
 * init and final xor 0xFFFFFFFF; crc32c("123456789") = E3069283.
 *
 * The byte loop is ISA-L's crc32_iscsi (SSE4.2/PCLMUL when the CPU has
 * them). Runs of zeros are checksummed without touching memory, by
 * polynomial arithmetic modulo P (holes in sparse data files), and so
 * are two checksums joined (parts of a tensor fetched in parallel).
 */
#include "util/util.h"

#include <isa-l/crc.h>

/* The Castagnoli polynomial, bit-reflected, x^32 term implied. */
#define CRC32C_POLY 0x82f63b78u

/* crc32_iscsi takes an int length: feed it at most this much at a time. */
#define ISAL_CHUNK ((size_t)1 << 30)

/*
 * crc32_iscsi neither inverts its seed nor its result: it is the bare
 * register update. The usual CRC32C inverts both, so a finished crc is
 * turned back into a register by ~, and the register out of ISA-L into a
 * finished crc the same way. That also makes crc(a || b) equal
 * util_crc32c(util_crc32c(0, a), b), which TF's Extend relies on.
 */
uint32_t util_crc32c(uint32_t crc, const void *buf, size_t len)
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
uint32_t util_crc32c_zeros(uint32_t crc, uint64_t n)
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

/*
 * The register after A || B is reg(A) * x^(8|B|) + reg(B from 0); with
 * the finished form's inversions that is crc(A || 0^n) ^ crc(B) ^
 * crc(0^n) for n = |B| (three complements make one).
 */
uint32_t util_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	return util_crc32c_zeros(crc_a, len_b) ^ crc_b ^ util_crc32c_zeros(0, len_b);
}
