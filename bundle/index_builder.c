/*
 * index_builder.c - .index bytes from entries: the header under key "",
 * then one BundleEntryProto per key, through the TF-identical table
 * builder. Used by the writer and by the view to synthesize merged indexes.
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <stdlib.h>

#include "bundle/coding.h"
#include "bundle/entry.h"
#include "bundle/internal.h"
#include "bundle/table.h"

struct bundle_index_builder {
	struct table_builder *table; /* owned */
	struct bytebuf val;          /* scratch for one encoded value */
	int err;                     /* sticky */
};

int bundle_index_builder_new(int num_shards, struct bundle_index_builder **out)
{
	struct bundle_index_builder *b;

	if (num_shards < 1)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b || !(b->table = table_builder_new())) {
		free(b);
		return -ENOMEM;
	}
	header_encode(num_shards, &b->val);
	b->err = b->val.err ? b->val.err
			    : table_builder_add(b->table, (const uint8_t *)"", 0, b->val.data,
						b->val.len);
	*out = b;
	return 0;
}

int bundle_index_builder_add(struct bundle_index_builder *b, const char *key, size_t key_len,
			     const struct bundle_entry *e)
{
	if (b->err)
		return b->err;
	if (key_len == 0)
		return b->err = -EINVAL; /* "" is the header's key */
	b->val.len = 0;
	entry_encode(e, &b->val);
	if (b->val.err)
		return b->err = b->val.err;
	b->err =
		table_builder_add(b->table, (const uint8_t *)key, key_len, b->val.data, b->val.len);
	return b->err;
}

int bundle_index_builder_finish(struct bundle_index_builder *b, uint8_t **out, size_t *len,
				char *err, size_t errlen)
{
	if (!b->err)
		b->err = table_builder_finish(b->table, out, len);
	if (b->err == -EINVAL)
		return bundle_errf(err, errlen, b->err,
				   "index keys must be unique and added in increasing order");
	if (b->err)
		return bundle_errf(err, errlen, b->err, "cannot build index: %s",
				   b->err == -ENOMEM ? "out of memory" : "error");
	return 0;
}

void bundle_index_builder_free(struct bundle_index_builder *b)
{
	if (!b)
		return;
	table_builder_free(b->table);
	bytebuf_release(&b->val);
	free(b);
}
