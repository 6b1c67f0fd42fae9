/*
 * reader.c - open a whole checkpoint (bundle_reader): resolve its prefix,
 * read and parse its .index (index.c), open every data shard read-only
 * and check that every tensor lies inside its shard.
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/internal.h"
#include "bundle/table.h"
#include "util/util.h"

struct bundle_reader {
	char *prefix;             /* owned */
	struct bundle_index *idx; /* owned */
	int *fds;                 /* owned, num_shards items, -1 if closed */
	int64_t *sizes;           /* shard sizes at open */
};

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

char *bundle_shard_name(const char *prefix, int shard, int num_shards)
{
	size_t n = strlen(prefix) + sizeof(".data-00000-of-00000") + 16;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s.data-%05d-of-%05d", prefix, shard, num_shards);
	return s;
}

static int open_shards(struct bundle_reader *r, char *err, size_t errlen)
{
	int n = bundle_index_num_shards(r->idx);

	r->fds = malloc(sizeof(int) * (size_t)n);
	r->sizes = calloc((size_t)n, sizeof(int64_t));
	if (!r->fds || !r->sizes)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		r->fds[i] = -1;
	for (int i = 0; i < n; i++) {
		char *name = bundle_shard_name(r->prefix, i, n);
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

	for (size_t i = 0; i < bundle_index_num_entries(idx); i++) {
		const struct bundle_entry *e = bundle_index_entry_at(idx, i);
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
	for (int i = 0; r->fds && i < bundle_index_num_shards(r->idx); i++)
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
	return bundle_index_num_shards(r->idx);
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
	return bundle_index_num_entries(r->idx);
}

const struct bundle_entry *bundle_entry_at(const struct bundle_reader *r,
					   size_t i)
{
	return bundle_index_entry_at(r->idx, i);
}

const struct bundle_entry *bundle_find(const struct bundle_reader *r,
				       const char *key, size_t key_len)
{
	return bundle_index_find(r->idx, key, key_len);
}

int bundle_read_tensor(const struct bundle_reader *r,
		       const struct bundle_entry *e, void *buf,
		       char *err, size_t errlen)
{
	char name[512];
	uint32_t crc;
	ssize_t got;
	int rc;

	if (e->n_slices)
		return bundle_errf(err, errlen, -EINVAL,
				   "'%s': tensor '%s' is partitioned: read its pieces",
				   r->prefix, e->key);
	got = util_pread_full(r->fds[e->shard_id], buf, (size_t)e->size,
			      e->offset);
	rc = got < 0 ? (int)got : got < e->size ? -EIO : 0;
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
