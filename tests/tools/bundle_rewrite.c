/*
 * bundle_rewrite.c - test tool: `bundle_rewrite SRC DST_PREFIX` reads every
 * tensor of SRC (verifying its CRC) and writes them all to a new
 * single-shard bundle with ckptfs's writer, which computes every CRC anew.
 * TensorFlow reading DST_PREFIX is what proves the writer.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bundle/bundle.h"

static int copy_all(struct bundle_reader *r, struct bundle_writer *w, char *err, size_t errlen)
{
	for (size_t i = 0; i < bundle_num_entries(r); i++) {
		const struct bundle_entry ent = bundle_entry_at(r, i), *e = &ent;
		void *buf = malloc((size_t)e->size + 1);
		int rc;

		if (!buf) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		rc = e->n_slices ? 0 : bundle_read_tensor(r, e, buf, err, errlen);
		/* A failed add is sticky: finish reports its message. */
		if (rc == 0 && bundle_writer_add(w, e, buf, e->n_slices ? 0 : (size_t)e->size))
			rc = bundle_writer_finish(w, err, errlen);
		free(buf);
		if (rc)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bundle_reader *r = NULL;
	struct bundle_writer *w = NULL;
	char err[BUNDLE_ERR_MAX] = "";
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: bundle_rewrite SRC DST_PREFIX\n");
		return 2;
	}
	rc = bundle_open(argv[1], &r, err, sizeof(err));
	if (rc == 0)
		rc = bundle_writer_open(argv[2], &w, err, sizeof(err));
	if (rc == 0)
		rc = copy_all(r, w, err, sizeof(err));
	if (rc == 0)
		rc = bundle_writer_finish(w, err, sizeof(err));
	if (rc)
		fprintf(stderr, "bundle_rewrite: %s\n", err);
	bundle_writer_free(w);
	bundle_close(r);
	return rc ? 1 : 0;
}
