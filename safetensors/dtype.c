/*
 * dtype.c - which TensorFlow dtypes a safetensors file can hold, under
 * which names, in which order the reference writer sorts them.
 */
#include "safetensors/safetensors.h"

#include <string.h>

#include "bundle/bundle.h"
#include "util/util.h"

/*
 * TensorFlow dtype -> safetensors name; order is the dtype's place in the
 * reference writer's Dtype enum, which sorts tensors by it (descending)
 * so that each is aligned to its element size.
 */
static const struct st_dtype {
	int tf;
	const char *name;
	int order;
} dtypes[] = {
	{ BUNDLE_DT_BOOL, "BOOL", 0 },
	{ BUNDLE_DT_UINT8, "U8", 4 },
	{ BUNDLE_DT_INT8, "I8", 5 },
	{ 24 /* float8_e5m2 */, "F8_E5M2", 6 },
	{ 25 /* float8_e4m3fn */, "F8_E4M3", 7 },
	{ BUNDLE_DT_INT16, "I16", 11 },
	{ BUNDLE_DT_UINT16, "U16", 12 },
	{ BUNDLE_DT_HALF, "F16", 13 },
	{ BUNDLE_DT_BFLOAT16, "BF16", 14 },
	{ BUNDLE_DT_INT32, "I32", 15 },
	{ BUNDLE_DT_UINT32, "U32", 16 },
	{ BUNDLE_DT_FLOAT, "F32", 17 },
	{ BUNDLE_DT_DOUBLE, "F64", 19 },
	{ BUNDLE_DT_INT64, "I64", 20 },
	{ BUNDLE_DT_UINT64, "U64", 21 },
};

static const struct st_dtype *by_tf(int dtype)
{
	for (size_t i = 0; i < ARRAY_SIZE(dtypes); i++)
		if (dtypes[i].tf == dtype)
			return &dtypes[i];
	return NULL;
}

const char *safetensors_dtype_name(int dtype)
{
	const struct st_dtype *d = by_tf(dtype);

	return d ? d->name : NULL;
}

int safetensors_dtype_order(int dtype)
{
	const struct st_dtype *d = by_tf(dtype);

	return d ? d->order : -1;
}

int safetensors_dtype_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(dtypes); i++)
		if (strlen(dtypes[i].name) == len && !memcmp(dtypes[i].name, name, len))
			return dtypes[i].tf;
	return -1;
}
