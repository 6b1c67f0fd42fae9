/*
 * test_safetensors_codec.c - the safetensors header as a codec: the writer
 * on hostile names (quotes, backslashes, every control character, NUL,
 * UTF-8, bytes that are not UTF-8), padding and the dtype table; the
 * strict reader on what the writer writes, on what the format allows and
 * on hostile headers, each refused with its message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bundle/bundle.h"
#include "safetensors/safetensors.h"
#include "util/util.h"

/* ------------------------------------------------------ the header writer */

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The JSON of one uint8 [1] tensor called name (len bytes), unpadded. */
static char *json_of(const char *name, size_t len, int *rc)
{
	uint64_t dim = 1;
	struct safetensors_tensor t = { (char *)name, len, BUNDLE_DT_UINT8, 1, &dim, 0, 1 };
	uint8_t *out = NULL;
	size_t n = 0;
	char *s;

	*rc = safetensors_serialize(&t, 1, &out, &n);
	if (*rc)
		return NULL;
	assert_true(n >= 8 && n % 8 == 0);
	assert_int_equal(le64(out), n - 8);
	while (n > 8 && out[n - 1] == ' ')
		n--;
	s = strndup((char *)out + 8, n - 8);
	free(out);
	return s;
}

static void expect_json(const char *name, size_t len, const char *want_key)
{
	char want[512];
	int rc;
	char *got = json_of(name, len, &rc);

	snprintf(want, sizeof(want), "{%s:{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
		 want_key);
	assert_int_equal(rc, 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_write_escapes_like_serde_json(void **state)
{
	(void)state;
	expect_json("a", 1, "\"a\"");
	expect_json("q\"b", 3, "\"q\\\"b\"");
	expect_json("back\\slash", 10, "\"back\\\\slash\"");
	expect_json("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
	expect_json("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
	expect_json("nul\0x", 5, "\"nul\\u0000x\"");
	expect_json("caf\xc3\xa9/\xf0\x9f\x99\x82", 10, "\"caf\xc3\xa9/\xf0\x9f\x99\x82\"");
	expect_json("", 0, "\"\"");
}

static void test_write_every_control_character(void **state)
{
	(void)state;
	for (int c = 0; c < 0x20; c++) {
		char name[1] = { (char)c }, key[16];
		const char *short_ = c == '\b'   ? "\\b"
				     : c == '\f' ? "\\f"
				     : c == '\n' ? "\\n"
				     : c == '\r' ? "\\r"
				     : c == '\t' ? "\\t"
						 : NULL;

		if (short_)
			snprintf(key, sizeof(key), "\"%s\"", short_);
		else
			snprintf(key, sizeof(key), "\"\\u%04x\"", c);
		expect_json(name, 1, key);
	}
}

static void test_write_refuses_what_json_cannot_hold(void **state)
{
	static const char *const bad[] = { "\xff", "a\xc3", "\xed\xa0\x80" /* surrogate */,
					   "\xc0\xaf" /* overlong '/' */ };
	uint64_t dim = 1;
	struct safetensors_tensor t = { (char *)"x", 1, BUNDLE_DT_STRING, 1, &dim, 0, 1 };
	uint8_t *out = NULL;
	size_t n;
	int rc;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *s = json_of(bad[i], strlen(bad[i]), &rc);

		assert_null(s);
		assert_int_equal(rc, -EINVAL);
	}
	assert_int_equal(safetensors_serialize(&t, 1, &out, &n), -EINVAL);
	t.dtype = BUNDLE_DT_COMPLEX64;
	assert_int_equal(safetensors_serialize(&t, 1, &out, &n), -EINVAL);
	assert_null(out);
}

static void test_write_pads_with_blanks_to_8(void **state)
{
	(void)state;
	for (size_t len = 1; len <= 17; len++) {
		char name[32];
		uint64_t dim = 3;
		struct safetensors_tensor t = { name, len, BUNDLE_DT_FLOAT, 1, &dim, 0, 12 };
		uint8_t *out = NULL;
		size_t n = 0, end;

		memset(name, 'n', len);
		assert_int_equal(safetensors_serialize(&t, 1, &out, &n), 0);
		assert_int_equal(n % 8, 0);
		assert_int_equal(le64(out), n - 8);
		end = n;
		while (out[end - 1] == ' ')
			end--;
		assert_int_equal(out[end - 1], '}');
		assert_true(n - end < 8);
		free(out);
	}
}

static void test_write_no_tensors(void **state)
{
	uint8_t *out = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(safetensors_serialize(NULL, 0, &out, &n), 0);
	assert_int_equal(n, 16);
	assert_int_equal(le64(out), 8);
	assert_memory_equal(out + 8, "{}      ", 8);
	free(out);
}

/* safetensors_serialized_len counts what serialize writes, escapes and padding included. */
static void test_serialized_len_is_the_header_length(void **state)
{
	static const char *const names[] = { "a", "enc/w\n\"q\"", "\x01\x1f\\", "名前/ü",
					     "a_name_of_seventeen" };
	uint64_t dims[3] = { 2, 3, 4 };
	struct safetensors_tensor t[ARRAY_SIZE(names)];
	uint8_t *out = NULL;
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		t[i] = (struct safetensors_tensor){
			(char *)names[i], strlen(names[i]), BUNDLE_DT_FLOAT, (int)(i % 4), dims,
			96 * i,           96 * i + 96
		};
	for (size_t k = 0; k <= ARRAY_SIZE(names); k++) {
		assert_int_equal(safetensors_serialize(k ? t : NULL, k, &out, &n), 0);
		assert_int_equal(safetensors_serialized_len(k ? t : NULL, k), n);
		free(out);
	}
	t[0].dtype = BUNDLE_DT_STRING; /* what serialize refuses counts 0 */
	assert_int_equal(safetensors_serialized_len(t, 1), 0);
}

/* The 8-byte prefix alone refuses a length over the limit or past the file. */
static void test_header_len_from_the_prefix(void **state)
{
	static const struct {
		uint64_t len, file;
		int rc;
		const char *why;
	} c[] = {
		{ 8, 16, 0, NULL },
		{ 8, 15, -EBADMSG, "(a header of 8 bytes in a file of 15)" },
		{ 0, 8, 0, NULL },
		{ 0, 7, -EBADMSG, "in a file of 7" },
		{ SAFETENSORS_MAX_HEADER, (uint64_t)SAFETENSORS_MAX_HEADER + 8, 0, NULL },
		{ (uint64_t)SAFETENSORS_MAX_HEADER + 1, (uint64_t)1 << 40, -EBADMSG,
		  "not a safetensors file (a header of 100000001 bytes, over the 100000000 readers accept)" },
		{ UINT64_MAX, UINT64_MAX, -EBADMSG,
		  "a header of 18446744073709551615 bytes, over" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		uint8_t prefix[8];
		uint64_t n = 12345;
		char err[256] = "";

		for (int b = 0; b < 8; b++)
			prefix[b] = (uint8_t)(c[i].len >> (8 * b));
		assert_int_equal(safetensors_header_len(prefix, c[i].file, &n, err, sizeof(err)),
				 c[i].rc);
		if (c[i].rc == 0)
			assert_int_equal(n, c[i].len);
		else if (n != 12345 || !strstr(err, c[i].why))
			fail_msg("case %zu: '%s' (want '%s')", i, err, c[i].why);
	}
}

static void test_dtype_names(void **state)
{
	static const struct {
		int dtype;
		const char *name;
	} want[] = {
		{ BUNDLE_DT_HALF, "F16" },
		{ BUNDLE_DT_BFLOAT16, "BF16" },
		{ BUNDLE_DT_FLOAT, "F32" },
		{ BUNDLE_DT_DOUBLE, "F64" },
		{ BUNDLE_DT_INT8, "I8" },
		{ BUNDLE_DT_INT16, "I16" },
		{ BUNDLE_DT_INT32, "I32" },
		{ BUNDLE_DT_INT64, "I64" },
		{ BUNDLE_DT_UINT8, "U8" },
		{ BUNDLE_DT_UINT16, "U16" },
		{ BUNDLE_DT_UINT32, "U32" },
		{ BUNDLE_DT_UINT64, "U64" },
		{ BUNDLE_DT_BOOL, "BOOL" },
		{ 24, "F8_E5M2" },
		{ 25, "F8_E4M3" },
		{ BUNDLE_DT_STRING, NULL },
		{ BUNDLE_DT_COMPLEX64, NULL },
		{ BUNDLE_DT_COMPLEX128, NULL },
		{ BUNDLE_DT_RESOURCE, NULL },
		{ BUNDLE_DT_VARIANT, NULL },
		{ 11 /* qint8 */, NULL },
		{ 29 /* int4 */, NULL },
		{ 26 /* e4m3fnuz */, NULL },
		{ 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const char *got = safetensors_dtype_name(want[i].dtype);

		if (!want[i].name)
			assert_null(got);
		else
			assert_string_equal(got, want[i].name);
	}
}

/*
 * A header as the view writes it for its test source (test_view_safetensors.c):
 * every dtype order, and a name that needs every kind of escape.
 */
#define Q_KEY "q\"\\\x01\n"
static const char want_json[] =
	"{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
	"\"c\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[8,40]},"
	"\"p\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[40,72]},"
	"\"q\\\"\\\\\\u0001\\n\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[72,80]},"
	"\"f16\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[80,86]},"
	"\"u8\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[86,89]}}";
#define DATA_LEN 89

/* ------------------------------------------------------ the header reader */

static int parse(const char *json, uint64_t data_len, struct safetensors_header **h, char *err,
		 size_t errlen)
{
	*h = NULL;
	return safetensors_parse((const uint8_t *)json, strlen(json), data_len, h, err, errlen);
}

static void test_parse_reads_what_the_writer_writes(void **state)
{
	struct safetensors_header *h;
	char err[512] = "";
	uint8_t *out = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(parse(want_json, DATA_LEN, &h, err, sizeof(err)), 0);
	assert_int_equal(h->n, 6);
	assert_int_equal(h->data_len, DATA_LEN);
	assert_int_equal(h->t[3].name_len, strlen(Q_KEY));
	assert_memory_equal(h->t[3].name, Q_KEY, strlen(Q_KEY));
	assert_int_equal(h->t[2].dtype, BUNDLE_DT_FLOAT);
	assert_int_equal(h->t[2].rank, 2);
	assert_int_equal(h->t[2].dims[0], 4);
	assert_int_equal(safetensors_serialize(h->t, h->n, &out, &n), 0);
	assert_memory_equal(out + 8, want_json, sizeof(want_json) - 1);
	free(out);
	safetensors_header_free(h);
}

static void test_parse_accepts(void **state)
{
	static const struct {
		const char *json;
		uint64_t data_len;
		size_t n;
	} ok[] = {
		{ "{}", 0, 0 },
		{ " { } \n  ", 0, 0 },
		{ "{\"__metadata__\":{\"format\":\"pt\",\"x\":\"\\u00e9\"}}", 0, 0 },
		{ "{\"__metadata__\":null,\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}",
		  1, 1 },
		/* fields in any order; out-of-order offsets are sorted into data order */
		{ "{\"b\":{\"data_offsets\":[2,4],\"shape\":[1],\"dtype\":\"I16\"},"
		  "\"a\":{\"shape\":[2],\"dtype\":\"BOOL\",\"data_offsets\":[0,2]}}",
		  4, 2 },
		{ "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[0,0]}}", 0, 1 },
		{ "{\"\\ud83d\\ude42\\/\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
		  8, 1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct safetensors_header *h;
		char err[512] = "";

		if (parse(ok[i].json, ok[i].data_len, &h, err, sizeof(err)))
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(h->n, ok[i].n);
		safetensors_header_free(h);
	}
}

#define T(name, dt, shape, b, e) \
	"\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_parse_refuses_hostile_headers(void **state)
{
	static const struct {
		const char *json;
		uint64_t data_len;
		const char *why;
	} bad[] = {
		{ "", 0, "expected '{'" },
		{ "[]", 0, "expected '{'" },
		{ "{", 0, "expected '\"'" },
		{ "{" T("a", "U8", "[1]", 0, 1), 1, "expected ',' or '}'" },
		{ "{" T("a", "U8", "[1]", 0, 1) "}}", 1, "trailing bytes" },
		{ "{" T("a", "U8", "[1]", 0, 1) ",}", 1, "expected '\"'" },
		{ "{" T("a", "U8", "[1]", 4, 5) "}", 5, "leave a gap or overlap" },
		{ "{" T("a", "U8", "[2]", 0, 2) "," T("b", "U8", "[2]", 1, 3) "}", 3,
		  "gap or overlap" },
		{ "{" T("a", "U8", "[2]", 0, 2) "," T("a", "U8", "[2]", 2, 4) "}", 4,
		  "appears twice" },
		{ "{" T("a", "F32", "[2]", 0, 4) "}", 4, "do not hold its shape" },
		{ "{" T("a", "U8", "[2]", 0, 2) "}", 3, "the file has 3" },
		{ "{" T("a", "U8", "[2]", 2, 0) "}", 0, "end before they begin" },
		{ "{" T("a", "C64", "[1]", 0, 8) "}", 8, "unsupported dtype 'C64'" },
		{ "{" T("a", "U8", "[-1]", 0, 1) "}", 1, "non-negative integer" },
		{ "{" T("a", "U8", "[1.0]", 0, 1) "}", 1, "expected an integer" },
		{ "{" T("a", "U8", "[01]", 0, 1) "}", 1, "leading zero" },
		{ "{" T("a", "U8", "[99999999999999999999]", 0, 1) "}", 1, "number too large" },
		{ "{" T("a", "U8", "[9223372036854775808]", 0, 1) "}", 1, "dimension too large" },
		{ "{" T("a", "U64", "[4611686018427387904,4]", 0, 8) "}", 8,
		  "do not hold its shape" },
		{ "{" T("a", "U8", "[1]", 0, 18446744073709551615) "}", 1, "number too large" },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1,
		  "needs dtype, shape and data_offsets" },
		{ "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\"}}", 1, "field given twice" },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1,
		  "unknown field" },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1,
		  "expected ']'" },
		{ "{\"a\x01\":{}}", 0, "raw control character" },
		{ "{\"a\\x\":{}}", 0, "unknown escape" },
		{ "{\"a\\u12\":{}}", 0, "truncated \\u escape" },
		{ "{\"a\\u12g4\":{}}", 0, "bad \\u escape" },
		{ "{\"a\\ud800\":{}}", 0, "lone high surrogate" },
		{ "{\"a\\udc00\":{}}", 0, "lone low surrogate" },
		{ "{\"a\\ud800\\u0041\":{}}", 0, "bad surrogate pair" },
		{ "{\"a\\", 0, "unterminated string" },
		{ "{\"\xff\":{}}", 0, "not UTF-8" },
		{ "{\"__metadata__\":{\"k\":1}}", 0, "expected '\"'" },
		{ "{\"__metadata__\":[]}", 0, "expected '{'" },
		/* serde: "duplicate field `__metadata__`" */
		{ "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
		  "byte 19: '__metadata__' given twice" },
		{ "{\"__metadata__\":null," T("a", "U8", "[1]", 0,
					      1) ",\"__metadata__\":{\"k\":\"v\"}}",
		  1, "'__metadata__' given twice" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct safetensors_header *h;
		char err[512] = "";
		int rc = parse(bad[i].json, bad[i].data_len, &h, err, sizeof(err));

		if (rc != -EBADMSG || !strstr(err, bad[i].why))
			fail_msg("case %zu: rc %d, '%s' (want '%s')", i, rc, err, bad[i].why);
		assert_null(h);
	}
}

static void test_parse_refuses_a_header_too_large(void **state)
{
	struct safetensors_header *h = NULL;
	char err[512] = "";
	static const uint8_t json[] = "{}";

	(void)state;
	/* the length alone decides: nothing past the buffer is read */
	assert_int_equal(safetensors_parse(json, (size_t)SAFETENSORS_MAX_HEADER + 1, 0, &h, err,
					   sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "header too large"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_escapes_like_serde_json),
		cmocka_unit_test(test_write_every_control_character),
		cmocka_unit_test(test_write_refuses_what_json_cannot_hold),
		cmocka_unit_test(test_write_pads_with_blanks_to_8),
		cmocka_unit_test(test_write_no_tensors),
		cmocka_unit_test(test_serialized_len_is_the_header_length),
		cmocka_unit_test(test_header_len_from_the_prefix),
		cmocka_unit_test(test_dtype_names),
		cmocka_unit_test(test_parse_reads_what_the_writer_writes),
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_refuses_hostile_headers),
		cmocka_unit_test(test_parse_refuses_a_header_too_large),
	};

	return cmocka_run_group_tests_name("safetensors_codec", tests, NULL, NULL);
}
