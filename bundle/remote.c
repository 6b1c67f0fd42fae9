/*
 * remote.c - checkpoints whose files are remote objects (store/): a URL
 * resolved the way a local path is (a prefix, a directory's `checkpoint`
 * object, a SavedModel), and each data shard given its tensors as the
 * store's verification units, checked against the index's CRC32C the way
 * bundle_read_tensor() checks them.
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/internal.h"
#include "store/store.h"
#include "util/util.h"

/* A state file is a few lines (resolve.c's cap, for the same reason). */
#define STATE_OBJECT_MAX ((int64_t)1 << 20)

static char *concat(const char *a, const char *sep, const char *b)
{
	size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
	char *s = malloc(n);

	if (s)
		strcat(strcat(strcpy(s, a), sep), b);
	return s;
}

/* Open PREFIX.index: 0, -ENOENT (no such object: try the next form), or
 * another error with its message. */
static int open_index(struct store *s, const char *prefix, struct store_obj **out, char *err,
		      size_t errlen)
{
	char *url = concat(prefix, "", ".index");
	int rc;

	if (!url)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	rc = store_obj_open(s, url, out, err, errlen);
	free(url);
	return rc;
}

/*
 * The prefix DIR/checkpoint names, as a URL: a relative path is joined to
 * DIR; an absolute one (TensorFlow writes the path it saved to, which
 * means nothing on a server) is taken by its last component. NULL in
 * *out when there is no state object.
 */
static int state_prefix(struct store *s, const char *dir, char **out, char *err, size_t errlen)
{
	char *url = concat(dir, "/", "checkpoint"), *text, *p;
	struct store_obj *o;
	int64_t size;
	int rc;

	*out = NULL;
	if (!url)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	rc = store_obj_open(s, url, &o, err, errlen);
	free(url);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	size = store_obj_size(o);
	text = size <= STATE_OBJECT_MAX ? calloc(1, (size_t)size + 1) : NULL;
	rc = !text ? bundle_errf(err, errlen, size > STATE_OBJECT_MAX ? -EFBIG : -ENOMEM,
				 "'%s/checkpoint': over 1 MiB: not a TensorFlow state file", dir)
		   : store_obj_read(o, text, (size_t)size, 0, err, errlen);
	store_obj_close(o);
	p = rc ? NULL : bundle_parse_state(dir, text, (size_t)size);
	free(text);
	if (p && p[0] == '/') { /* an absolute local path */
		char *base = concat(dir, "/", strrchr(p, '/') + 1);

		free(p);
		p = base;
	}
	*out = p;
	return rc;
}

/* A "directory": its state object's prefix, else a SavedModel's.
 * first404 is what the server said of DIR.index, for the message. */
static int resolve_dir(struct store *s, const char *dir, const char *first404, char **prefix,
		       struct store_obj **index, char *err, size_t errlen)
{
	static const char *const saved[] = { "variables/variables", "variables" };
	char *p = NULL;
	int rc = state_prefix(s, dir, &p, err, errlen);

	for (size_t i = 0; rc == 0 && i <= ARRAY_SIZE(saved); i++) {
		if (i > 0 && !(p = concat(dir, "/", saved[i - 1])))
			return bundle_errf(err, errlen, -ENOMEM, "out of memory");
		if (!p)
			continue;
		rc = open_index(s, p, index, err, errlen);
		if (rc == 0) {
			*prefix = p;
			return 0;
		}
		free(p);
		p = NULL;
		rc = rc == -ENOENT ? 0 : rc;
	}
	return rc ? rc
		  : bundle_errf(
			    err, errlen, -ENOENT,
			    "'%s': no checkpoint here (%s; no 'checkpoint' object naming an existing prefix, no variables/variables.index)",
			    dir, first404);
}

int bundle_remote_resolve(struct store *s, const char *url, char **prefix_out,
			  struct store_obj **index, char *err, size_t errlen)
{
	char *dir = strdup(url), first404[BUNDLE_ERR_MAX];
	size_t n = dir ? strlen(dir) : 0;
	int rc;

	if (!dir)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	while (n && dir[n - 1] == '/')
		dir[--n] = '\0';
	snprintf(first404, sizeof(first404), "'%s' names a directory", url);
	rc = n == strlen(url) ? open_index(s, url, index, first404, sizeof(first404)) : -ENOENT;
	if (rc == 0) {
		*prefix_out = dir;
		return 0;
	}
	if (rc == -ENOENT) /* the server's word on PREFIX.index, kept for the message */
		rc = resolve_dir(s, dir, first404, prefix_out, index, err, errlen);
	else
		bundle_errf(err, errlen, rc, "%s", first404);
	free(dir);
	return rc;
}

/* ------------------------------------------------------------ checking */

/*
 * A store_verify_fn for a tensor of strings or variants (tag dtype, count
 * elements), whose checksum covers their own layout (bundle_tensor_crc):
 * read back whole. Tensors of fixed-size elements never come here: the
 * store checks their bytes' CRC32C as they arrive.
 */
static int verify_tensor(const struct store_unit *u, int fd, char *err, size_t errlen)
{
	uint8_t *buf = malloc(u->len ? (size_t)u->len : 1);
	uint32_t crc = 0;
	int rc = buf ? 0 : -ENOMEM;

	if (rc == 0)
		rc = util_pread_full(fd, buf, (size_t)u->len, u->off) == (ssize_t)u->len ? 0 : -EIO;
	if (rc == 0 && bundle_tensor_crc(u->tag, u->count, buf, (size_t)u->len, &crc))
		rc = -EBADMSG;
	free(buf);
	if (rc)
		return bundle_errf(err, errlen, rc == -EBADMSG ? rc : -EBADMSG, "%s",
				   rc == -EBADMSG ? "malformed encoding" : strerror(-rc));
	if (crc != bundle_crc_unmask(u->crc))
		return bundle_errf(err, errlen, -EBADMSG, "stored %08x, fetched bytes give %08x",
				   bundle_crc_unmask(u->crc), crc);
	return 0;
}

/* The units of shard `shard`: its tensors. */
static int shard_units(const struct bundle_index *idx, int32_t shard, struct store_obj *o,
		       char *err, size_t errlen)
{
	struct store_unit *u = NULL;
	size_t n = 0, cap = 0;
	int rc;

	for (size_t i = 0; i < bundle_index_num_entries(idx); i++) {
		struct bundle_entry e = bundle_index_entry_at(idx, i);
		struct store_unit *g;
		int plain;

		if (e.n_slices || e.shard_id != shard || e.size <= 0)
			continue;
		g = util_grow(u, &cap, n + 1, sizeof(*u));
		if (!g) {
			free(u);
			return bundle_errf(err, errlen, -ENOMEM, "out of memory");
		}
		u = g;
		/* a tensor of fixed-size elements is its bytes' CRC32C: the
		 * store checks it as they arrive; strings have a layout of
		 * their own, which verify_tensor reads back */
		plain = bundle_dtype_size(e.dtype) > 0;
		u[n++] = (struct store_unit){ .off = e.offset,
					      .len = e.size,
					      .count = bundle_num_elements(e.rank, e.dims),
					      .crc = plain ? bundle_crc_unmask(e.crc32c) : e.crc32c,
					      .tag = e.dtype,
					      .plain_crc = plain };
	}
	rc = store_obj_set_units(o, u, n, verify_tensor, err, errlen);
	free(u);
	return rc;
}

int bundle_remote_units(const struct bundle_index *idx, struct store_obj **objs, size_t n_objs,
			char *err, size_t errlen)
{
	int rc = 0;

	for (size_t i = 0; i < n_objs && rc == 0; i++)
		if (objs[i])
			rc = shard_units(idx, (int32_t)i, objs[i], err, errlen);
	return rc;
}
