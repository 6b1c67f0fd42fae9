/*
 * st_crc.c - the CRC32Cs a TensorFlow output needs of tensors that come
 * from a source without them (a safetensors source: bundle_has_crcs() is
 * 0). TensorFlow checks each tensor's CRC32C on restore, so the merged
 * .index must hold the right one. They are computed when the view is
 * built, from the bytes, once per source tensor the merge uses (a tensor
 * under several names is read once), and only when the view shows a
 * TensorFlow checkpoint: the cost is one sequential read of those bytes
 * (ISA-L's CRC32C runs far faster than a disk), paid at mount time.
 */
#include "view/view_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define CRC_CHUNK (1u << 20)
#define CRC_HAVE (1ull << 32)

/* The masked CRC32C of entry e of reader r, read through buf (CRC_CHUNK bytes). */
static int crc_of(const struct bundle_reader *r, const struct bundle_entry *e, uint8_t *buf,
		  uint32_t *out, char *err, size_t errlen)
{
	const int fd = bundle_shard_fd(r, e->shard_id);
	uint32_t crc = 0;

	for (int64_t done = 0; done < e->size;) {
		size_t n = (size_t)(e->size - done < CRC_CHUNK ? e->size - done : CRC_CHUNK);
		ssize_t got = util_pread_full(fd, buf, n, e->offset + done);
		char a[VIEW_SHOWN_MAX];

		if (got < 0 || (size_t)got != n)
			return view_errf(
				err, errlen, -EIO, NULL,
				"'%s': tensor '%s': cannot read its bytes for its CRC32C (%s)",
				bundle_prefix(r), view_shown(a, e->key, e->key_len),
				got < 0 ? strerror((int)-got) : "file truncated?");
		crc = bundle_crc32c(crc, buf, n);
		done += (int64_t)n;
	}
	*out = bundle_crc_mask(crc);
	return 0;
}

/* A per-entry table for each source without CRCs (NULL for the others). */
static int make_tables(struct view *v)
{
	v->crcs = calloc(v->m->n_sources + 1, sizeof(*v->crcs));
	if (!v->crcs)
		return -ENOMEM;
	for (size_t s = 0; s < v->m->n_sources; s++) {
		const struct bundle_reader *r = v->readers[s];

		if (bundle_has_crcs(r))
			continue;
		v->crcs[s] = calloc(bundle_num_entries(r) + 1, sizeof(**v->crcs));
		if (!v->crcs[s])
			return -ENOMEM;
	}
	return 0;
}

int st_crc_compute(struct view *v, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	int rc = 0, any = 0;

	for (size_t s = 0; s < v->m->n_sources; s++)
		any |= !bundle_has_crcs(v->readers[s]);
	if (!any)
		return 0;
	rc = make_tables(v);
	buf = rc ? NULL : malloc(CRC_CHUNK);
	if (!buf)
		return view_errf(err, errlen, -ENOMEM, NULL, "out of memory");
	for (size_t i = 0; rc == 0 && i < v->n_targets; i++) {
		const struct view_target *t = &v->targets[i];
		const size_t s = view_target_source(v, t);
		uint64_t *slot = t->synth ? NULL : v->crcs[s] ? &v->crcs[s][t->entry] : NULL;
		struct bundle_entry e;
		uint32_t crc = 0;

		if (!slot || *slot & CRC_HAVE)
			continue;
		e = bundle_entry_at(v->readers[s], t->entry);
		rc = crc_of(v->readers[s], &e, buf, &crc, err, errlen);
		if (rc == 0)
			*slot = CRC_HAVE | crc;
	}
	free(buf);
	return rc;
}

uint32_t st_crc_of(const struct view *v, const struct view_target *t, uint32_t stored)
{
	const size_t s = view_target_source(v, t);

	if (t->synth || !v->crcs || !v->crcs[s])
		return stored;
	return (uint32_t)v->crcs[s][t->entry];
}

void st_crc_free(struct view *v)
{
	for (size_t s = 0; v->crcs && s < v->m->n_sources; s++)
		free(v->crcs[s]);
	free(v->crcs);
	v->crcs = NULL;
}
