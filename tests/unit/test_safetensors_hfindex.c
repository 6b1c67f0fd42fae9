/*
 * test_safetensors_hfindex.c - the strict reader of a Hugging Face
 * model.safetensors.index.json: what save_pretrained writes is read (shards
 * sorted and numbered, names sorted), and every hostile index is refused
 * with its message (a shard name reaching out of the directory, a tensor
 * twice, unknown or repeated members, no weight_map, not UTF-8).
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

#include "safetensors/safetensors.h"

static int parse(const char *json, struct safetensors_index **ix, char *err, size_t errlen)
{
	return safetensors_index_parse((const uint8_t *)json, strlen(json), "ix.json", ix, err,
				       errlen);
}

static void test_reads_what_save_pretrained_writes(void **state)
{
	static const char json[] =
		"{\n  \"metadata\": {\n    \"total_size\": 1234,\n    \"total_parameters\": 617,\n"
		"    \"format\": \"pt\", \"x\": null, \"y\": true\n  },\n"
		"  \"weight_map\": {\n"
		"    \"model.norm.weight\": \"model-00002-of-00002.safetensors\",\n"
		"    \"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\",\n"
		"    \"lm_head.weight\": \"model-00002-of-00002.safetensors\"\n  }\n}\n";
	struct safetensors_index *ix = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(json, &ix, err, sizeof(err)), 0);
	assert_int_equal(ix->n_files, 2);
	assert_string_equal(ix->files[0], "model-00001-of-00002.safetensors");
	assert_string_equal(ix->files[1], "model-00002-of-00002.safetensors");
	assert_int_equal(ix->n, 3);
	assert_string_equal(ix->t[0].name, "lm_head.weight");
	assert_int_equal(ix->t[0].file, 1);
	assert_string_equal(ix->t[1].name, "model.embed_tokens.weight");
	assert_int_equal(ix->t[1].file, 0);
	assert_string_equal(ix->t[2].name, "model.norm.weight");
	assert_int_equal(ix->t[2].file, 1);
	assert_true(ix->has_total_size);
	assert_int_equal(ix->total_size, 1234);
	safetensors_index_free(ix);
}

static void test_metadata_is_optional(void **state)
{
	struct safetensors_index *ix = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse("{\"weight_map\": {}}", &ix, err, sizeof(err)), 0);
	assert_int_equal(ix->n, 0);
	assert_int_equal(ix->n_files, 0);
	assert_false(ix->has_total_size);
	safetensors_index_free(ix);
	assert_int_equal(parse("{\"metadata\": null, \"weight_map\": {\"a\": \"f\"}}", &ix, err,
			       sizeof(err)),
			 0);
	assert_int_equal(ix->n_files, 1);
	safetensors_index_free(ix);
}

static void test_refuses_hostile_indexes(void **state)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "{\"weight_map\": {\"a\": \"../x.safetensors\"}}",
		  "ix.json, byte 21: shard '../x.safetensors' is not a file name of the model's directory" },
		{ "{\"weight_map\": {\"a\": \"/etc/passwd\"}}", "is not a file name" },
		{ "{\"weight_map\": {\"a\": \"..\"}}", "is not a file name" },
		{ "{\"weight_map\": {\"a\": \"\"}}", "is not a file name" },
		{ "{\"weight_map\": {\"a\": \"x\\u0000y\"}}", "is not a file name" },
		{ "{\"weight_map\": {\"a\": \"f\", \"a\": \"g\"}}",
		  "tensor 'a' is in the weight_map twice" },
		{ "{\"weight_map\": {}, \"weight_map\": {}}", "a member given twice" },
		{ "{\"weight_map\": {}, \"extra\": 1}",
		  "unknown member (expected metadata, weight_map)" },
		{ "{\"metadata\": {}}", "no weight_map" },
		{ "{\"metadata\": {\"total_size\": \"12\"}, \"weight_map\": {}}",
		  "expected a non-negative integer" },
		{ "{\"metadata\": {\"a\": [1]}, \"weight_map\": {}}",
		  "expected a non-negative integer" },
		{ "{\"weight_map\": {\"a\": 1}}", "expected '\"'" },
		{ "{\"weight_map\": {}} x", "trailing bytes after the object" },
		{ "{\"weight_map\": {\"\xff\": \"f\"}}", "ix.json, byte 0: not UTF-8" },
		{ "[]", "expected '{'" },
		{ "", "expected '{'" },
		{ "{\"weight_map\": {\"a\": \"f\"", "expected ',' or '}'" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct safetensors_index *ix = NULL;
		char err[256] = "";
		int rc = parse(cases[i].json, &ix, err, sizeof(err));

		if (rc != -EBADMSG || !strstr(err, cases[i].msg))
			fail_msg("case %zu: rc %d, '%s' (expected '%s')", i, rc, err, cases[i].msg);
		assert_null(ix);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_what_save_pretrained_writes),
		cmocka_unit_test(test_metadata_is_optional),
		cmocka_unit_test(test_refuses_hostile_indexes),
	};

	return cmocka_run_group_tests_name("safetensors_hfindex", tests, NULL, NULL);
}
