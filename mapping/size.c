/*
 * size.c - a byte count as a mapping writes one (`max_shard_size = 5GB`):
 * the units Hugging Face's max_shard_size takes, decimal (KB, MB, GB, TB)
 * and binary (KiB, MiB, GiB, TiB), or none for bytes.
 */
#include "mapping/mapping.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const struct unit {
	const char *name;
	uint64_t bytes;
} units[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "KB", 1000ull },
	{ "MB", 1000ull * 1000 },
	{ "GB", 1000ull * 1000 * 1000 },
	{ "TB", 1000ull * 1000 * 1000 * 1000 },
	{ "KiB", 1ull << 10 },
	{ "MiB", 1ull << 20 },
	{ "GiB", 1ull << 30 },
	{ "TiB", 1ull << 40 },
};

int mapping_size_parse(const char *s, uint64_t *out)
{
	uint64_t n = 0;
	size_t i = 0;

	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (!i)
		return -EINVAL;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (strcmp(s + i, units[u].name))
			continue;
		if (n > UINT64_MAX / units[u].bytes)
			return -ERANGE;
		if (!n)
			return -EINVAL;
		*out = n * units[u].bytes;
		return 0;
	}
	return -EINVAL;
}
