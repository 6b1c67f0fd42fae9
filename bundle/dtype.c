/*
 * dtype.c - TensorFlow DataType numbers: Python names and element sizes
 * (docs/checkpoint-format.md §3.5).
 */
#include "bundle/bundle.h"

#include <stdint.h>

struct dtype_info {
	const char *name; /* tf.dtypes name, as tf.train.list_variables shows */
	int size;         /* bytes per element; 0 variable-length; -1 unsaveable */
};

static const struct dtype_info dtypes[BUNDLE_DT_MAX + 1] = {
	[0] = { NULL, -1 },
	[1] = { "float32", 4 },
	[2] = { "float64", 8 },
	[3] = { "int32", 4 },
	[4] = { "uint8", 1 },
	[5] = { "int16", 2 },
	[6] = { "int8", 1 },
	[7] = { "string", 0 },
	[8] = { "complex64", 8 },
	[9] = { "int64", 8 },
	[10] = { "bool", 1 },
	[11] = { "qint8", 1 },
	[12] = { "quint8", 1 },
	[13] = { "qint32", 4 },
	[14] = { "bfloat16", 2 },
	[15] = { "qint16", 2 },
	[16] = { "quint16", 2 },
	[17] = { "uint16", 2 },
	[18] = { "complex128", 16 },
	[19] = { "float16", 2 },
	[20] = { "resource", -1 }, /* handles; TF refuses to save them */
	[21] = { "variant", 0 },
	[22] = { "uint32", 4 },
	[23] = { "uint64", 8 },
	[24] = { "float8_e5m2", 1 },
	[25] = { "float8_e4m3fn", 1 },
	[26] = { "float8_e4m3fnuz", 1 },
	[27] = { "float8_e4m3b11fnuz", 1 },
	[28] = { "float8_e5m2fnuz", 1 },
	[29] = { "int4", 1 },
	[30] = { "uint4", 1 },
	[31] = { "int2", 1 },
	[32] = { "uint2", 1 },
	[33] = { "float4_e2m1fn", 1 },
};

const char *bundle_dtype_name(int dtype)
{
	if (dtype < 0 || dtype > BUNDLE_DT_MAX)
		return NULL;
	return dtypes[dtype].name;
}

int bundle_dtype_size(int dtype)
{
	if (dtype < 0 || dtype > BUNDLE_DT_MAX)
		return -1;
	return dtypes[dtype].size;
}

int64_t bundle_num_elements(int rank, const int64_t *dims)
{
	int64_t n = 1;

	for (int i = 0; i < rank; i++) {
		if (dims[i] < 0)
			return -1;
		if (dims[i] != 0 && n > INT64_MAX / dims[i])
			return -1;
		n *= dims[i];
	}
	return n;
}
