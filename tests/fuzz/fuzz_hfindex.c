/*
 * fuzz_hfindex.c - libFuzzer target for the reader of a Hugging Face
 * model.safetensors.index.json (safetensors_index_parse). On success:
 *   - the shard files are sorted, unique, each a plain file name (not
 *     empty, no '/', no NUL, not "." or "..");
 *   - the tensors are sorted strictly by name (none twice), each naming a
 *     shard that exists.
 * On failure there is a message and no index. Any violation abort()s with
 * a message, which libFuzzer reports.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "safetensors/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NAME "fuzz_hfindex"
#include "tests/fuzz/fuzz_check.h"

static void check_index(const struct safetensors_index *ix)
{
	for (size_t i = 0; i < ix->n_files; i++) {
		const char *f = ix->files[i];

		CHECK(*f && !strchr(f, '/') && strcmp(f, ".") && strcmp(f, ".."), "file %zu: '%s'",
		      i, f);
		CHECK(i == 0 || strcmp(ix->files[i - 1], f) < 0, "files %zu, %zu out of order",
		      i - 1, i);
	}
	for (size_t i = 0; i < ix->n; i++) {
		const struct safetensors_index_entry *e = &ix->t[i];

		CHECK(e->file < ix->n_files, "tensor %zu: file %u of %zu", i, e->file, ix->n_files);
		CHECK(i == 0 || bundle_key_cmp(ix->t[i - 1].name, ix->t[i - 1].name_len, e->name,
					       e->name_len) < 0,
		      "tensors %zu, %zu out of order or the same", i - 1, i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct safetensors_index *ix = NULL;
	char err[512] = "";
	int rc = safetensors_index_parse(data, size, "index.json", &ix, err, sizeof(err));

	if (rc == 0) {
		CHECK(ix, "no index on success");
		check_index(ix);
	} else {
		CHECK(!ix, "an index on failure (%d)", rc);
		CHECK(rc == -ENOMEM || err[0], "no message for %d", rc);
	}
	safetensors_index_free(ix);
	return 0;
}
