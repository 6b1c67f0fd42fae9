/*
 * reader.c - parse a .index into entries (bundle_index) and open a whole
 * checkpoint (bundle_reader): the strict checks of bundle.h, so that what
 * ckptfs later serves is known-good before any mount.
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/arena.h"
#include "bundle/entry.h"
#include "bundle/internal.h"
#include "bundle/table.h"

struct bundle_index {
	char *name;                   /* owned; for messages */
	struct table_contents table;  /* owned; keys live in its arena */
	struct arena arena;           /* owned; dims and slices */
	struct bundle_header header;
	struct bundle_entry *entries; /* owned, n items, key order */
	size_t n;
};

struct bundle_reader {
	char *prefix;             /* owned */
	struct bundle_index *idx; /* owned */
	int *fds;                 /* owned, num_shards items, -1 if closed */
	int64_t *sizes;           /* shard sizes at open */
};

static int check_header(struct bundle_index *idx, char *err, size_t errlen)
{
	const struct table_kv *kv = idx->table.n ? &idx->table.kvs[0] : NULL;
	struct bundle_header *h = &idx->header;

	if (!kv || kv->key_len != 0)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': no header entry (empty key)", idx->name);
	if (header_decode(kv->val, kv->val_len, h))
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': header is not a parseable BundleHeaderProto",
				   idx->name);
	if (h->endianness != 0)
		return bundle_errf(err, errlen, -ENOTSUP,
				   "'%s': big-endian bundle (only little-endian is supported)",
				   idx->name);
	if (h->producer < 0 || h->min_consumer > BUNDLE_CONSUMER ||
	    h->bad_consumer_is_us)
		return bundle_errf(err, errlen, -ENOTSUP,
				   "'%s': unsupported format version (producer %d, min_consumer %d)",
				   idx->name, h->producer, h->min_consumer);
	if (h->num_shards < 1)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': header has num_shards %d", idx->name,
				   h->num_shards);
	return 0;
}

static int decode_entries(struct bundle_index *idx, char *err, size_t errlen)
{
	char msg[BUNDLE_ERR_MAX], name[512];

	idx->n = idx->table.n - 1;
	idx->entries = calloc(idx->n + 1, sizeof(*idx->entries));
	if (!idx->entries)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < idx->n; i++) {
		const struct table_kv *kv = &idx->table.kvs[i + 1];
		struct bundle_entry *e = &idx->entries[i];
		int rc;

		e->key = (const char *)kv->key;
		e->key_len = kv->key_len;
		rc = entry_decode(kv->val, kv->val_len, &idx->arena, e, msg,
				  sizeof(msg));
		if (rc)
			return bundle_errf(err, errlen, rc, "'%s': tensor '%s': %s",
					   idx->name, bundle_entry_name(e, name, sizeof(name)),
					   msg);
		if (e->shard_id >= idx->header.num_shards)
			return bundle_errf(err, errlen, -EBADMSG,
					   "'%s': tensor '%s': shard_id %d out of range (num_shards %d)",
					   idx->name, bundle_entry_name(e, name, sizeof(name)),
					   e->shard_id, idx->header.num_shards);
	}
	return 0;
}

static const struct bundle_entry *find(const struct bundle_index *idx,
				       const char *key, size_t len)
{
	size_t lo = 0, hi = idx->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bundle_entry *e = &idx->entries[mid];
		int c = bundle_key_cmp(e->key, e->key_len, key, len);

		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A piece must exist, be unclaimed, and match its full tensor. */
static int check_piece(const struct bundle_index *idx,
		       const struct bundle_entry *full,
		       const struct bundle_slice *s, unsigned char *claimed,
		       char *err, size_t errlen)
{
	const struct bundle_entry *p;
	char *key;
	size_t len;
	int rc;

	rc = bundle_slice_key_encode(full->key, full->key_len, s, &key, &len);
	if (rc)
		return bundle_errf(err, errlen, rc, "out of memory");
	p = find(idx, key, len);
	free(key);
	if (!p)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': partitioned tensor '%s': a piece is missing",
				   idx->name, full->key);
	if (claimed[p - idx->entries]++ || p->n_slices || p->dtype != full->dtype ||
	    p->rank != full->rank)
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': partitioned tensor '%s': a piece is duplicated or does not match",
				   idx->name, full->key);
	for (int d = 0; d < s->rank; d++) {
		int64_t want = s->extents[d].length < 0 ? full->dims[d]
							: s->extents[d].length;

		/* start > dims - want, not start + want > dims: no overflow */
		if (p->dims[d] != want || want > full->dims[d] ||
		    s->extents[d].start > full->dims[d] - want)
			return bundle_errf(err, errlen, -EBADMSG,
					   "'%s': partitioned tensor '%s': piece shape does not match its slice",
					   idx->name, full->key);
	}
	return 0;
}

static int check_pieces(const struct bundle_index *idx, char *err,
			size_t errlen)
{
	unsigned char *claimed = NULL;
	int rc = 0;

	for (size_t i = 0; i < idx->n && rc == 0; i++) {
		const struct bundle_entry *e = &idx->entries[i];

		if (!e->n_slices)
			continue;
		if (!claimed && !(claimed = calloc(idx->n, 1)))
			return bundle_errf(err, errlen, -ENOMEM, "out of memory");
		for (size_t s = 0; s < e->n_slices && rc == 0; s++)
			rc = check_piece(idx, e, &e->slices[s], claimed, err,
					 errlen);
	}
	free(claimed);
	return rc;
}

int bundle_index_parse(const char *name, const uint8_t *buf, size_t len,
		       struct bundle_index **out, char *err, size_t errlen)
{
	struct bundle_index *idx = calloc(1, sizeof(*idx));
	int rc;

	if (!idx || !(idx->name = strdup(name))) {
		free(idx);
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	}
	rc = table_read_all(name, buf, len, &idx->table, err, errlen);
	if (rc == 0)
		rc = check_header(idx, err, errlen);
	if (rc == 0)
		rc = decode_entries(idx, err, errlen);
	if (rc == 0)
		rc = check_pieces(idx, err, errlen);
	if (rc) {
		bundle_index_free(idx);
		return rc;
	}
	*out = idx;
	return 0;
}

void bundle_index_free(struct bundle_index *idx)
{
	if (!idx)
		return;
	table_contents_release(&idx->table);
	arena_release(&idx->arena);
	free(idx->entries);
	free(idx->name);
	free(idx);
}

int bundle_index_num_shards(const struct bundle_index *idx)
{
	return idx->header.num_shards;
}

size_t bundle_index_num_entries(const struct bundle_index *idx)
{
	return idx->n;
}

const struct bundle_entry *bundle_index_entry_at(const struct bundle_index *idx,
						 size_t i)
{
	return i < idx->n ? &idx->entries[i] : NULL;
}

int bundle_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

int bundle_entry_is_piece(const struct bundle_entry *e)
{
	return e->key_len > 0 && e->key[0] == '\0';
}

const char *bundle_entry_name(const struct bundle_entry *e, char *buf,
			      size_t len)
{
	struct bundle_slice s;
	size_t used, nlen;
	char *name;

	if (!bundle_entry_is_piece(e) ||
	    bundle_slice_key_decode(e->key, e->key_len, &name, &nlen, &s)) {
		snprintf(buf, len, "%s", e->key);
		return buf;
	}
	used = (size_t)snprintf(buf, len, "%s[", name);
	for (int d = 0; d < s.rank && used < len; d++) {
		if (s.extents[d].length < 0)
			used += (size_t)snprintf(buf + used, len - used, "%s-",
						 d ? "," : "");
		else
			used += (size_t)snprintf(buf + used, len - used,
						 "%s%lld:%lld", d ? "," : "",
						 (long long)s.extents[d].start,
						 (long long)s.extents[d].length);
	}
	if (used < len)
		snprintf(buf + used, len - used, "]");
	free(name);
	free(s.extents);
	return buf;
}

/* ------------------------------------------------------------- readers */

/*
 * Open a file that must be a regular file. O_NONBLOCK so that a FIFO in a
 * checkpoint's place cannot hang us in open(); it is refused right after.
 * Returns the fd (size in *size) or a negative errno with a message.
 */
static int open_regular(const char *path, const char *what, int64_t *size,
			char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;

	if (fd < 0)
		return bundle_errf(err, errlen, -errno, "'%s': cannot open %s: %s",
				   path, what, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int rc = -errno;

		close(fd);
		return bundle_errf(err, errlen, rc, "'%s': cannot stat %s: %s",
				   path, what, strerror(-rc));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return bundle_errf(err, errlen, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
				   "'%s': cannot open %s: not a regular file%s",
				   path, what, S_ISDIR(st.st_mode) ? " (a directory)" : "");
	}
	/* reads of a regular file never block; clear it for plain semantics */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*size = st.st_size;
	return fd;
}

/* Reject a non-table by its last bytes before reading all of it. */
static int check_tail(int fd, const char *path, int64_t size, char *err,
		      size_t errlen)
{
	uint8_t tail[TABLE_FOOTER_SIZE];
	size_t n = size < TABLE_FOOTER_SIZE ? (size_t)size : TABLE_FOOTER_SIZE;

	if (pread(fd, tail, n, size - (int64_t)n) != (ssize_t)n)
		return bundle_errf(err, errlen, -EIO, "'%s': read failed: %s", path,
				   strerror(errno ? errno : EIO));
	return table_check_magic(path, tail, n, err, errlen);
}

static int read_file(const char *path, uint8_t **out, size_t *len,
		     char *err, size_t errlen)
{
	int64_t size;
	int fd = open_regular(path, "index", &size, err, errlen);
	uint8_t *buf = NULL;
	size_t got = 0;
	int rc = 0;

	if (fd < 0)
		return fd;
	rc = check_tail(fd, path, size, err, errlen);
	if (rc)
		goto out;
	buf = malloc((size_t)size + 1);
	if (!buf) {
		rc = bundle_errf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	while (got < (size_t)size) {
		ssize_t n = read(fd, buf + got, (size_t)size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = bundle_errf(err, errlen, -EIO, "'%s': read failed: %s",
					 path, n < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

static char *shard_name(const char *prefix, int shard, int num_shards)
{
	size_t n = strlen(prefix) + 64;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s.data-%05d-of-%05d", prefix, shard, num_shards);
	return s;
}

static int open_shards(struct bundle_reader *r, char *err, size_t errlen)
{
	int n = r->idx->header.num_shards;

	r->fds = malloc(sizeof(int) * (size_t)n);
	r->sizes = calloc((size_t)n, sizeof(int64_t));
	if (!r->fds || !r->sizes)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		r->fds[i] = -1;
	for (int i = 0; i < n; i++) {
		char *name = shard_name(r->prefix, i, n);
		int rc = 0;

		if (!name)
			return bundle_errf(err, errlen, -ENOMEM, "out of memory");
		rc = open_regular(name, "data shard", &r->sizes[i], err, errlen);
		r->fds[i] = rc < 0 ? -1 : rc;
		rc = rc < 0 ? rc : 0;
		free(name);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_extents(const struct bundle_reader *r, char *err,
			 size_t errlen)
{
	const struct bundle_index *idx = r->idx;
	char name[512];

	for (size_t i = 0; i < idx->n; i++) {
		const struct bundle_entry *e = &idx->entries[i];
		int64_t end = r->sizes[e->shard_id];

		if (e->n_slices)
			continue;
		if (e->offset > end || e->size > end - e->offset)
			return bundle_errf(err, errlen, -EBADMSG,
					   "'%s.index': tensor '%s' (offset %lld, size %lld) runs past the end of data shard %d (%lld bytes)",
					   r->prefix, bundle_entry_name(e, name, sizeof(name)),
					   (long long)e->offset,
					   (long long)e->size, e->shard_id,
					   (long long)end);
	}
	return 0;
}

static int open_index(struct bundle_reader *r, char *err, size_t errlen)
{
	char *path = malloc(strlen(r->prefix) + sizeof(".index"));
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (!path)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	strcpy(path, r->prefix);
	strcat(path, ".index");
	rc = read_file(path, &buf, &len, err, errlen);
	if (rc == 0)
		rc = bundle_index_parse(path, buf, len, &r->idx, err, errlen);
	free(buf);
	free(path);
	return rc;
}

int bundle_open(const char *path, struct bundle_reader **out,
		char *err, size_t errlen)
{
	struct bundle_reader *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	rc = bundle_resolve_prefix(path, &r->prefix, err, errlen);
	if (rc == 0)
		rc = open_index(r, err, errlen);
	if (rc == 0)
		rc = open_shards(r, err, errlen);
	if (rc == 0)
		rc = check_extents(r, err, errlen);
	if (rc) {
		bundle_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void bundle_close(struct bundle_reader *r)
{
	if (!r)
		return;
	for (int i = 0; r->fds && i < r->idx->header.num_shards; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	free(r->fds);
	free(r->sizes);
	bundle_index_free(r->idx);
	free(r->prefix);
	free(r);
}

const char *bundle_prefix(const struct bundle_reader *r)
{
	return r->prefix;
}

int bundle_num_shards(const struct bundle_reader *r)
{
	return r->idx->header.num_shards;
}

int bundle_shard_fd(const struct bundle_reader *r, int shard)
{
	return r->fds[shard];
}

int64_t bundle_shard_size(const struct bundle_reader *r, int shard)
{
	return r->sizes[shard];
}

size_t bundle_num_entries(const struct bundle_reader *r)
{
	return r->idx->n;
}

const struct bundle_entry *bundle_entry_at(const struct bundle_reader *r,
					   size_t i)
{
	return bundle_index_entry_at(r->idx, i);
}

const struct bundle_entry *bundle_find(const struct bundle_reader *r,
				       const char *key, size_t key_len)
{
	return find(r->idx, key, key_len);
}

static int pread_full(int fd, void *buf, size_t len, int64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  off + (int64_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

int bundle_read_tensor(const struct bundle_reader *r,
		       const struct bundle_entry *e, void *buf,
		       char *err, size_t errlen)
{
	char name[512];
	uint32_t crc;
	int rc;

	if (e->n_slices)
		return bundle_errf(err, errlen, -EINVAL,
				   "'%s': tensor '%s' is partitioned: read its pieces",
				   r->prefix, e->key);
	rc = pread_full(r->fds[e->shard_id], buf, (size_t)e->size, e->offset);
	if (rc)
		return bundle_errf(err, errlen, -EIO,
				   "'%s': tensor '%s': short read from data shard %d (%s)",
				   r->prefix, bundle_entry_name(e, name, sizeof(name)),
				   e->shard_id,
				   rc == -EIO ? "file truncated?" : strerror(-rc));
	if (bundle_tensor_crc(e->dtype, bundle_num_elements(e->rank, e->dims),
			      buf, (size_t)e->size, &crc))
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': tensor '%s': malformed %s encoding",
				   r->prefix, bundle_entry_name(e, name, sizeof(name)),
				   bundle_dtype_name(e->dtype));
	if (crc != bundle_crc_unmask(e->crc32c))
		return bundle_errf(err, errlen, -EBADMSG,
				   "'%s': tensor '%s': checksum mismatch (stored %08x, computed %08x)",
				   r->prefix, bundle_entry_name(e, name, sizeof(name)),
				   bundle_crc_unmask(e->crc32c), crc);
	return 0;
}
