/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors header reader
 * (safetensors_parse) and writer (safetensors_serialize).
 *
 * The input is a header's JSON; the data length it is checked against is
 * the sum the header claims when that parses (so inputs get past the
 * offset checks), else 0. On success:
 *   - the tensors are in data order, contiguous from 0, each of the size
 *     its shape says, names unique;
 *   - serializing them gives a header that parses to the same tensors, and
 *     serializing that again gives the same bytes (the writer is a fixed
 *     point of the reader).
 * Any violation abort()s with a message, which libFuzzer reports.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NAME "fuzz_safetensors"
#include "tests/fuzz/fuzz_check.h"

/* The data length a header claims: the largest end offset it parses to. */
static uint64_t claimed(const uint8_t *data, size_t size)
{
	const char *key = "\"data_offsets\"";
	uint64_t best = 0;

	for (size_t i = 0; i + strlen(key) < size; i++) {
		const uint8_t *p = data + i + strlen(key), *end = data + size;
		uint64_t v = 0;

		if (memcmp(data + i, key, strlen(key)))
			continue;
		while (p < end && *p != ',')
			p++;
		for (p++; p < end && *p >= '0' && *p <= '9' && v < UINT64_MAX / 16; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		best = v > best ? v : best;
	}
	return best;
}

static void same(const struct safetensors_header *a, const struct safetensors_header *b)
{
	CHECK(a->n == b->n && a->data_len == b->data_len, "%zu/%zu tensors", a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct safetensors_tensor *x = &a->t[i], *y = &b->t[i];

		CHECK(x->name_len == y->name_len && !memcmp(x->name, y->name, x->name_len),
		      "tensor %zu: name", i);
		CHECK(x->dtype == y->dtype && x->rank == y->rank && x->begin == y->begin &&
			      x->end == y->end,
		      "tensor %zu: fields", i);
		for (int d = 0; d < x->rank; d++)
			CHECK(x->dims[d] == y->dims[d], "tensor %zu: dim %d", i, d);
	}
}

static void invariants(const struct safetensors_header *h)
{
	uint64_t at = 0;

	for (size_t i = 0; i < h->n; i++) {
		CHECK(h->t[i].begin == at && h->t[i].end >= at, "tensor %zu: offsets", i);
		CHECK(safetensors_dtype_name(h->t[i].dtype), "tensor %zu: dtype", i);
		at = h->t[i].end;
	}
	CHECK(at == h->data_len, "data length");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct safetensors_header *h = NULL, *h2 = NULL;
	uint8_t *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0;
	char err[512];
	int rc;

	if (safetensors_parse(data, size, claimed(data, size), &h, err, sizeof(err)))
		return 0;
	invariants(h);
	rc = safetensors_serialize(h->t, h->n, &out, &len);
	CHECK(rc == 0, "serialize: %d", rc);
	CHECK(len % 8 == 0 && len >= 16, "header length %zu", len);
	rc = safetensors_parse(out + 8, len - 8, h->data_len, &h2, err, sizeof(err));
	CHECK(rc == 0, "reparse: %s", err);
	same(h, h2);
	CHECK(safetensors_serialize(h2->t, h2->n, &out2, &len2) == 0, "serialize again");
	CHECK(len == len2 && !memcmp(out, out2, len), "not a fixed point");
	free(out);
	free(out2);
	safetensors_header_free(h);
	safetensors_header_free(h2);
	return 0;
}
