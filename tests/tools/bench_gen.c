/*
 * bench_gen.c - benchmark input generator:
 *
 *   bench_gen OUT_PREFIX --tensors N --bytes TOTAL [--sparse]
 *             [--name-prefix P] [--seed S]
 *
 * writes a single-shard bundle OUT_PREFIX.{index,data-00000-of-00001} with N
 * rank-1 float32 tensors named P/layer_%06d/w (P defaults to "model") whose
 * sizes add up to exactly TOTAL bytes (a multiple of 4; the remainder
 * elements go one each to the first tensors). Dense tensors hold
 * pseudo-random bytes (xoshiro256+, seeded by S and the tensor number, so a
 * run is reproducible); --sparse writes every tensor as a hole with
 * bundle_writer_add_zeros, so a terabyte checkpoint costs no disk space and
 * still carries correct CRCs. TOTAL takes a binary suffix: K, M, G or T.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"

struct gen_opts {
	const char *prefix;
	const char *name_prefix;
	uint64_t tensors;
	uint64_t bytes;
	uint64_t seed;
	int sparse;
};

static const char usage[] =
	"usage: bench_gen OUT_PREFIX --tensors N --bytes TOTAL [--sparse]\n"
	"                 [--name-prefix P] [--seed S]\n"
	"  N float32 tensors P/layer_%06d/w (P: model) whose sizes sum to TOTAL\n"
	"  bytes (a multiple of 4; suffixes K M G T are powers of 1024).\n"
	"  --sparse: zero tensors written as holes (no disk used, CRCs correct).\n";

/* A decimal count with an optional binary suffix; -1 if malformed. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v, mul = 1;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'T':
	case 't': mul <<= 10; /* fall through */
	case 'G':
	case 'g': mul <<= 10; /* fall through */
	case 'M':
	case 'm': mul <<= 10; /* fall through */
	case 'K':
	case 'k':
		mul <<= 10;
		end++;
		break;
	case '\0': break;
	default: return -1;
	}
	if (*end || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

static int parse_args(int argc, char **argv, struct gen_opts *o)
{
	int have_n = 0, have_bytes = 0;

	memset(o, 0, sizeof(*o));
	o->name_prefix = "model";
	o->seed = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--sparse")) {
			o->sparse = 1;
		} else if (!strcmp(a, "--tensors") && val) {
			if (parse_size(val, &o->tensors) || !o->tensors) {
				fprintf(stderr, "bench_gen: bad --tensors '%s'\n", val);
				return -1;
			}
			have_n = 1, i++;
		} else if (!strcmp(a, "--bytes") && val) {
			if (parse_size(val, &o->bytes) || o->bytes % 4 ||
			    o->bytes > (uint64_t)INT64_MAX) {
				fprintf(stderr, "bench_gen: bad --bytes '%s' (a multiple of 4)\n",
					val);
				return -1;
			}
			have_bytes = 1, i++;
		} else if (!strcmp(a, "--name-prefix") && val) {
			o->name_prefix = val, i++;
		} else if (!strcmp(a, "--seed") && val) {
			if (parse_size(val, &o->seed)) {
				fprintf(stderr, "bench_gen: bad --seed '%s'\n", val);
				return -1;
			}
			i++;
		} else if (a[0] != '-' && !o->prefix) {
			o->prefix = a;
		} else {
			fprintf(stderr, "bench_gen: unexpected argument '%s'\n%s", a, usage);
			return -1;
		}
	}
	if (!o->prefix || !have_n || !have_bytes) {
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

/* xoshiro256+ (Blackman & Vigna), seeded through splitmix64. */
struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = s[0] + s[3], t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
	struct rng r;
	size_t i = 0;

	rng_seed(&r, seed);
	for (; i + 8 <= len; i += 8) {
		uint64_t x = rng_next(&r);

		memcpy(buf + i, &x, 8);
	}
	if (i < len) {
		uint64_t x = rng_next(&r);

		memcpy(buf + i, &x, len - i);
	}
}

static int generate(const struct gen_opts *o, char *err, size_t errlen)
{
	struct bundle_writer *w = NULL;
	uint64_t elems = o->bytes / 4, base = elems / o->tensors;
	uint64_t extra = elems % o->tensors;
	size_t name_cap = strlen(o->name_prefix) + 64;
	char *name = malloc(name_cap);
	uint8_t *buf = NULL;
	int rc;

	if (!name) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!o->sparse) {
		/* every tensor fits the first one's buffer */
		size_t cap = (size_t)((base + (extra ? 1 : 0)) * 4);

		buf = malloc(cap ? cap : 1);
		if (!buf) {
			snprintf(err, errlen, "out of memory for a %zu-byte tensor", cap);
			free(name);
			return -ENOMEM;
		}
	}
	rc = bundle_writer_open(o->prefix, &w, err, errlen);
	for (uint64_t i = 0; rc == 0 && i < o->tensors; i++) {
		int64_t dims[1] = { (int64_t)(base + (i < extra ? 1 : 0)) };
		struct bundle_entry e;
		int n = snprintf(name, name_cap, "%s/layer_%06" PRIu64 "/w", o->name_prefix, i);

		memset(&e, 0, sizeof(e));
		e.key = name;
		e.key_len = (size_t)n;
		e.dtype = BUNDLE_DT_FLOAT;
		e.rank = 1;
		e.dims = dims;
		e.size = dims[0] * 4;
		if (o->sparse) {
			rc = bundle_writer_add_zeros(w, &e);
		} else {
			fill_random(buf, (size_t)e.size, o->seed * 0x100000001b3ull + i);
			rc = bundle_writer_add(w, &e, buf, (size_t)e.size);
		}
		/* a failed add is sticky: finish reports its message */
		if (rc)
			rc = bundle_writer_finish(w, err, errlen);
	}
	if (rc == 0)
		rc = bundle_writer_finish(w, err, errlen);
	bundle_writer_free(w);
	free(buf);
	free(name);
	return rc;
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	char err[BUNDLE_ERR_MAX] = "";

	if (parse_args(argc, argv, &o))
		return 2;
	if (generate(&o, err, sizeof(err))) {
		fprintf(stderr, "bench_gen: %s\n", err[0] ? err : "failed");
		return 1;
	}
	return 0;
}
