/*
 * reader.c - open a whole checkpoint (bundle_reader): resolve its prefix,
 * read and parse its .index (index.c), open every data shard read-only
 * and check that every tensor lies inside its shard. Every file is opened
 * by bundle_open_file() (openfile.c): regular files only, never blocking.
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/internal.h"
#include "store/store.h"
#include "util/util.h"

struct bundle_reader {
	char *prefix;             /* owned */
	struct bundle_index *idx; /* owned */
	unsigned flags;           /* BUNDLE_OPEN_* */
	int *fds;                 /* owned, n_fds items: shards 0..n_fds-1 */
	int64_t *sizes;           /* owned, n_fds items: shard sizes at open */
	size_t n_fds, cap_fds, cap_sizes;
	/* a remote checkpoint's shard objects (their fds are in fds, not
	 * owned there), n_fds items; NULL for a local checkpoint */
	struct store_obj **objs;
	size_t cap_objs;
	/* bundle_reader_adopt(): the shards' paths (owned, n_fds items, each
	 * owned), and whether the entries carry no CRC32C; NULL and 0 for a
	 * checkpoint */
	char **paths;
	int no_crcs;
};

char *bundle_shard_name(const char *prefix, int shard, int num_shards)
{
	size_t n = strlen(prefix) + sizeof(".data-00000-of-00000") + 16;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s.data-%05d-of-%05d", prefix, shard, num_shards);
	return s;
}

/*
 * Open the shards in order, growing the arrays as they open: an index
 * that declares two billion shards fails at the first missing one, after
 * allocating for the ones that exist, not for the ones it claims.
 */
static int open_shards(struct bundle_reader *r, char *err, size_t errlen)
{
	int n = bundle_index_num_shards(r->idx);

	for (int i = 0; i < n; i++) {
		char *name = bundle_shard_name(r->prefix, i, n);
		int *fds = util_grow(r->fds, &r->cap_fds, r->n_fds + 1, sizeof(*fds));
		int64_t *sizes =
			fds ? util_grow(r->sizes, &r->cap_sizes, r->n_fds + 1, sizeof(*sizes))
			    : NULL;
		int fd;

		if (fds)
			r->fds = fds;
		if (sizes)
			r->sizes = sizes;
		if (!name || !sizes) {
			free(name);
			return bundle_errf(err, errlen, -ENOMEM, "out of memory");
		}
		fd = bundle_open_file(name, "data shard", r->flags, &r->sizes[r->n_fds], err,
				      errlen);
		free(name);
		if (fd < 0)
			return fd;
		r->fds[r->n_fds++] = fd;
	}
	return 0;
}

/* The shards of a remote checkpoint: objects whose cache files are the fds. */
static int open_remote_shards(struct bundle_reader *r, struct store *st, char *err, size_t errlen)
{
	int n = bundle_index_num_shards(r->idx);

	for (int i = 0; i < n; i++) {
		char *name = bundle_shard_name(r->prefix, i, n);
		int *fds = util_grow(r->fds, &r->cap_fds, r->n_fds + 1, sizeof(*fds));
		int64_t *sizes =
			fds ? util_grow(r->sizes, &r->cap_sizes, r->n_fds + 1, sizeof(*sizes))
			    : NULL;
		struct store_obj **objs =
			sizes ? util_grow(r->objs, &r->cap_objs, r->n_fds + 1, sizeof(*objs))
			      : NULL;
		int rc;

		if (fds)
			r->fds = fds;
		if (sizes)
			r->sizes = sizes;
		if (objs)
			r->objs = objs;
		if (!name || !objs) {
			free(name);
			return bundle_errf(err, errlen, -ENOMEM, "out of memory");
		}
		rc = store_obj_open(st, name, &r->objs[r->n_fds], err, errlen);
		free(name);
		if (rc)
			return rc;
		r->sizes[r->n_fds] = store_obj_size(r->objs[r->n_fds]);
		r->fds[r->n_fds] = store_obj_fd(r->objs[r->n_fds]);
		r->n_fds++;
	}
	return 0;
}

static int check_extents(const struct bundle_reader *r, char *err, size_t errlen)
{
	const struct bundle_index *idx = r->idx;
	char name[512];

	for (size_t i = 0; i < bundle_index_num_entries(idx); i++) {
		const struct bundle_entry ent = bundle_index_entry_at(idx, i), *e = &ent;
		int64_t end = r->sizes[e->shard_id];

		if (e->n_slices)
			continue;
		if (e->offset > end || e->size > end - e->offset)
			return bundle_errf(
				err, errlen, -EBADMSG,
				"'%s.index': tensor '%s' (offset %lld, size %lld) runs past the end of data shard %d (%lld bytes)",
				r->prefix, bundle_entry_name(e, name, sizeof(name)),
				(long long)e->offset, (long long)e->size, e->shard_id,
				(long long)end);
	}
	return 0;
}

static int open_index(struct bundle_reader *r, char *err, size_t errlen)
{
	char *path = malloc(strlen(r->prefix) + sizeof(".index"));
	int64_t size;
	int fd, rc;

	if (!path)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	strcpy(path, r->prefix);
	strcat(path, ".index");
	fd = bundle_open_file(path, "index", r->flags, &size, err, errlen);
	rc = fd < 0 ? fd : bundle_index_read_fd(path, fd, (uint64_t)size, &r->idx, err, errlen);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* The index of a remote checkpoint: its object fetched whole, then
 * parsed from the cache file like a local index. */
static int open_remote_index(struct bundle_reader *r, struct store *st, const char *url, char *err,
			     size_t errlen)
{
	struct store_obj *o;
	char *name;
	int rc = bundle_remote_resolve(st, url, &r->prefix, &o, err, errlen);

	if (rc)
		return rc;
	name = malloc(strlen(r->prefix) + sizeof(".index"));
	rc = name ? store_obj_fetch(o, 0, (uint64_t)store_obj_size(o), 0, err, errlen)
		  : bundle_errf(err, errlen, -ENOMEM, "out of memory");
	if (rc == 0)
		rc = bundle_index_read_fd(strcat(strcpy(name, r->prefix), ".index"),
					  store_obj_fd(o), (uint64_t)store_obj_size(o), &r->idx,
					  err, errlen);
	free(name);
	store_obj_close(o);
	return rc;
}

static int open_remote(struct bundle_reader *r, struct store *st, const char *url, char *err,
		       size_t errlen)
{
	int rc;

	if (!st)
		return bundle_errf(err, errlen, -EINVAL,
				   "'%s': a remote checkpoint, but no store to fetch it with", url);
	if ((r->flags & BUNDLE_OPEN_PUBLIC) && store_has_secrets(st))
		return bundle_errf(
			err, errlen, -EACCES,
			"'%s': allow_other would show every user what these credentials may read: mount it without allow_other, or make the objects public and unset the AWS keys",
			url);
	rc = open_remote_index(r, st, url, err, errlen);
	if (rc == 0)
		rc = open_remote_shards(r, st, err, errlen);
	if (rc == 0)
		rc = check_extents(r, err, errlen);
	if (rc == 0)
		rc = bundle_remote_units(r->idx, r->objs, r->n_fds, err, errlen);
	return rc;
}

static int open_local(struct bundle_reader *r, const char *path, char *err, size_t errlen)
{
	int rc = bundle_resolve_prefix_flags(path, r->flags, &r->prefix, err, errlen);

	if (rc == 0)
		rc = open_index(r, err, errlen);
	if (rc == 0)
		rc = open_shards(r, err, errlen);
	if (rc == 0)
		rc = check_extents(r, err, errlen);
	return rc;
}

int bundle_open_store(const char *path, unsigned flags, struct store *st,
		      struct bundle_reader **out, char *err, size_t errlen)
{
	struct bundle_reader *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	r->flags = flags;
	rc = store_is_url(path) ? open_remote(r, st, path, err, errlen)
				: open_local(r, path, err, errlen);
	if (rc) {
		bundle_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int bundle_open_flags(const char *path, unsigned flags, struct bundle_reader **out, char *err,
		      size_t errlen)
{
	return bundle_open_store(path, flags, NULL, out, err, errlen);
}

int bundle_open(const char *path, struct bundle_reader **out, char *err, size_t errlen)
{
	return bundle_open_flags(path, 0, out, err, errlen);
}

/* Check the adopted index against its shards, then own them. */
static int adopt(struct bundle_reader *r, const char *index_name, const uint8_t *index,
		 size_t index_len, char *err, size_t errlen)
{
	int rc = bundle_index_parse(index_name, index, index_len, &r->idx, err, errlen);

	if (rc == 0 && (size_t)bundle_index_num_shards(r->idx) != r->n_fds)
		rc = bundle_errf(err, errlen, -EINVAL, "'%s': %d shards in the index, %zu given",
				 index_name, bundle_index_num_shards(r->idx), r->n_fds);
	if (rc == 0)
		rc = check_extents(r, err, errlen);
	return rc;
}

int bundle_reader_adopt(const char *name, const uint8_t *index, size_t index_len,
			const struct bundle_shard_file *shards, size_t n,
			struct bundle_reader **out, char *err, size_t errlen)
{
	struct bundle_reader *r = calloc(1, sizeof(*r));
	int rc = r ? 0 : -ENOMEM;

	if (r) {
		r->prefix = strdup(name);
		r->fds = calloc(n ? n : 1, sizeof(*r->fds));
		r->sizes = calloc(n ? n : 1, sizeof(*r->sizes));
		r->paths = calloc(n ? n : 1, sizeof(*r->paths));
		r->no_crcs = 1;
		if (!r->prefix || !r->fds || !r->sizes || !r->paths)
			rc = -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && !(r->paths[i] = strdup(shards[i].path)))
			rc = -ENOMEM;
		if (rc == 0) {
			r->fds[i] = shards[i].fd;
			r->sizes[i] = shards[i].size;
			r->n_fds++;
		} else {
			close(shards[i].fd);
		}
	}
	if (rc == -ENOMEM)
		bundle_errf(err, errlen, rc, "out of memory");
	if (rc == 0)
		rc = adopt(r, name, index, index_len, err, errlen);
	if (rc) {
		bundle_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int bundle_has_crcs(const struct bundle_reader *r) { return !r->no_crcs; }

char *bundle_shard_path(const struct bundle_reader *r, int shard)
{
	if (r->paths)
		return strdup(r->paths[shard]);
	return bundle_shard_name(r->prefix, shard, bundle_num_shards(r));
}

int bundle_open_source_file(const char *path, const char *what, unsigned flags, int64_t *size,
			    char *err, size_t errlen)
{
	return bundle_open_file(path, what, flags, size, err, errlen);
}

void bundle_close(struct bundle_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->paths && i < r->n_fds; i++)
		free(r->paths[i]);
	free(r->paths);
	for (size_t i = 0; i < r->n_fds; i++) {
		if (r->objs)
			store_obj_close(r->objs[i]); /* its fd with it */
		else
			close(r->fds[i]);
	}
	free(r->objs);
	free(r->fds);
	free(r->sizes);
	bundle_index_free(r->idx);
	free(r->prefix);
	free(r);
}

const char *bundle_prefix(const struct bundle_reader *r) { return r->prefix; }

int bundle_num_shards(const struct bundle_reader *r) { return bundle_index_num_shards(r->idx); }

int bundle_shard_fd(const struct bundle_reader *r, int shard) { return r->fds[shard]; }

struct store_obj *bundle_shard_obj(const struct bundle_reader *r, int shard)
{
	return r->objs ? r->objs[shard] : NULL;
}

int bundle_fetch(const struct bundle_reader *r, int shard, int64_t off, int64_t len, char *err,
		 size_t errlen)
{
	if (!r->objs || !r->objs[shard])
		return 0;
	return store_obj_fetch(r->objs[shard], (uint64_t)off, (uint64_t)len, 0, err, errlen);
}

int64_t bundle_shard_size(const struct bundle_reader *r, int shard) { return r->sizes[shard]; }

size_t bundle_num_entries(const struct bundle_reader *r)
{
	return bundle_index_num_entries(r->idx);
}

struct bundle_entry bundle_entry_at(const struct bundle_reader *r, size_t i)
{
	return bundle_index_entry_at(r->idx, i);
}

void bundle_entry_place(const struct bundle_reader *r, size_t i, int32_t *shard_id, int64_t *offset,
			int64_t *size)
{
	bundle_index_entry_place(r->idx, i, shard_id, offset, size);
}

size_t bundle_find(const struct bundle_reader *r, const char *key, size_t key_len)
{
	return bundle_index_find(r->idx, key, key_len);
}

const struct bundle_entry *bundle_lookup(const struct bundle_reader *r, const char *key,
					 size_t key_len, struct bundle_entry *out)
{
	size_t i = bundle_find(r, key, key_len);

	if (i == BUNDLE_NOT_FOUND)
		return NULL;
	*out = bundle_entry_at(r, i);
	return out;
}

void bundle_release_entries(struct bundle_reader *r) { bundle_index_release_entries(r->idx); }

int bundle_read_tensor(const struct bundle_reader *r, const struct bundle_entry *e, void *buf,
		       char *err, size_t errlen)
{
	char name[512];
	uint32_t crc;
	ssize_t got;
	int rc;

	if (e->n_slices)
		return bundle_errf(err, errlen, -EINVAL,
				   "'%s': tensor '%s' is partitioned: read its pieces", r->prefix,
				   e->key);
	rc = bundle_fetch(r, e->shard_id, e->offset, e->size, err, errlen);
	if (rc)
		return rc;
	got = util_pread_full(r->fds[e->shard_id], buf, (size_t)e->size, e->offset);
	rc = got < 0 ? (int)got : got < e->size ? -EIO : 0;
	if (rc)
		return bundle_errf(err, errlen, -EIO,
				   "'%s': tensor '%s': short read from data shard %d (%s)",
				   r->prefix, bundle_entry_name(e, name, sizeof(name)), e->shard_id,
				   rc == -EIO ? "file truncated?" : strerror(-rc));
	if (r->no_crcs)
		return 0; /* nothing to check against (bundle_reader_adopt) */
	if (bundle_tensor_crc(e->dtype, bundle_num_elements(e->rank, e->dims), buf, (size_t)e->size,
			      &crc))
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': tensor '%s': malformed %s encoding", r->prefix,
				   bundle_entry_name(e, name, sizeof(name)),
				   bundle_dtype_name(e->dtype));
	if (crc != bundle_crc_unmask(e->crc32c))
		return bundle_errf(
			err, errlen, -EBADMSG,
			"'%s': tensor '%s': checksum mismatch (stored %08x, computed %08x)",
			r->prefix, bundle_entry_name(e, name, sizeof(name)),
			bundle_crc_unmask(e->crc32c), crc);
	return 0;
}
