/*
 * writer.c - write a whole single-shard bundle, the way TensorFlow's
 * BundleWriter does: tensors appended to PREFIX.data-00000-of-00001 in the
 * order added, the index built at finish, both written under
 * ".tempstate<random>" names and renamed (data first, index last: the
 * index's presence marks a complete checkpoint).
 */
#define _GNU_SOURCE /* copy_file_range */
#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bundle/internal.h"
#include "util/util.h"

struct bundle_writer {
	char *data_path, *data_tmp;   /* owned */
	char *index_path, *index_tmp; /* owned */
	int fd;                       /* data_tmp, or -1 */
	int64_t off;                  /* bytes appended so far */
	struct bundle_entry *items;   /* owned; keys/dims/slices in arena */
	size_t n, cap;
	struct util_arena arena;
	int err;                  /* sticky */
	char msg[BUNDLE_ERR_MAX]; /* the first error's message */
	int done;                 /* finish succeeded */
};

__attribute__((format(printf, 3, 4))) static int fail(struct bundle_writer *w, int code,
						      const char *fmt, ...)
{
	va_list ap;

	if (w->err)
		return w->err;
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
	return w->err = code;
}

static char *path_with(const char *prefix, const char *suffix, uint64_t tmp)
{
	size_t n = strlen(prefix) + strlen(suffix) + 48;
	char *s = malloc(n);

	if (!s)
		return NULL;
	if (tmp)
		snprintf(s, n, "%s%s.tempstate%llu", prefix, suffix, (unsigned long long)tmp);
	else
		snprintf(s, n, "%s%s", prefix, suffix);
	return s;
}

int bundle_writer_open(const char *prefix, struct bundle_writer **out, char *err, size_t errlen)
{
	struct bundle_writer *w = calloc(1, sizeof(*w));
	uint64_t rnd = 0;

	if (!w)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	w->fd = -1;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd) || rnd == 0)
		rnd = (uint64_t)getpid() << 32 | (uint64_t)time(NULL);
	w->data_path = path_with(prefix, ".data-00000-of-00001", 0);
	w->data_tmp = path_with(prefix, ".data-00000-of-00001", rnd);
	w->index_path = path_with(prefix, ".index", 0);
	w->index_tmp = path_with(prefix, ".index", rnd);
	if (!w->data_path || !w->data_tmp || !w->index_path || !w->index_tmp) {
		bundle_writer_free(w);
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	}
	w->fd = open(w->data_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		/* the file's own name: the temporary one means nothing to a user */
		int rc = bundle_errf(err, errlen, -errno, "'%s': cannot create: %s", w->data_path,
				     strerror(errno));
		bundle_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* Copy e's key, dims and slices into the writer and append the entry. */
static struct bundle_entry *push(struct bundle_writer *w, const struct bundle_entry *e)
{
	struct bundle_entry *c;
	char *key;

	c = util_grow(w->items, &w->cap, w->n + 1, sizeof(*w->items));
	if (!c)
		return NULL;
	w->items = c;
	c = &w->items[w->n];
	*c = *e;
	key = util_arena_alloc(&w->arena, e->key_len + 1);
	c->dims = util_arena_alloc(&w->arena, sizeof(int64_t) * (size_t)e->rank + 1);
	c->slices = util_arena_alloc(&w->arena, sizeof(*c->slices) * e->n_slices + 1);
	if (!key || !c->dims || !c->slices)
		return NULL;
	memcpy(key, e->key, e->key_len);
	key[e->key_len] = '\0';
	c->key = key;
	if (e->rank > 0) /* a scalar's dims may be NULL */
		memcpy(c->dims, e->dims, sizeof(int64_t) * (size_t)e->rank);
	for (size_t i = 0; i < e->n_slices; i++) {
		const struct bundle_slice *s = &e->slices[i];
		size_t n = sizeof(*s->extents) * (size_t)s->rank;

		c->slices[i].rank = s->rank;
		c->slices[i].extents = util_arena_alloc(&w->arena, n + 1);
		if (!c->slices[i].extents)
			return NULL;
		if (n)
			memcpy(c->slices[i].extents, s->extents, n);
	}
	w->n++;
	return c;
}

static int add_entry(struct bundle_writer *w, const struct bundle_entry *e, int64_t size,
		     uint32_t crc)
{
	struct bundle_entry *c = push(w, e);

	if (!c)
		return fail(w, -ENOMEM, "out of memory");
	c->shard_id = 0;
	c->offset = e->n_slices ? 0 : w->off;
	c->size = e->n_slices ? 0 : size;
	c->crc32c = e->n_slices ? 0 : bundle_crc_mask(crc);
	w->off += c->size;
	return 0;
}

/* Append len bytes of p to the data file. */
static int append(struct bundle_writer *w, const void *p, size_t len)
{
	int rc = util_pwrite_full(w->fd, p, len, w->off);

	return rc ? fail(w, rc, "'%s': write failed: %s", w->data_path, strerror(-rc)) : 0;
}

int bundle_writer_add(struct bundle_writer *w, const struct bundle_entry *e, const void *data,
		      size_t len)
{
	uint32_t crc = 0;

	if (w->err)
		return w->err;
	if (!e->n_slices &&
	    bundle_tensor_crc(e->dtype, bundle_num_elements(e->rank, e->dims), data, len, &crc))
		return fail(w, -EINVAL, "tensor '%s': malformed %s encoding", e->key,
			    bundle_dtype_name(e->dtype));
	if (!e->n_slices && append(w, data, len))
		return w->err;
	return add_entry(w, e, (int64_t)len, crc);
}

/* copy_file_range where the kernel can, a bounce buffer where it cannot. */
static int copy_range(struct bundle_writer *w, int src, int64_t src_off, int64_t len)
{
	loff_t in = src_off, out = w->off;
	char buf[1 << 16];

	while (len > 0) {
		ssize_t n = copy_file_range(src, &in, w->fd, &out, (size_t)len, 0);

		if (n < 0 &&
		    (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
			n = pread(src, buf, len < (int64_t)sizeof(buf) ? (size_t)len : sizeof(buf),
				  in);
			if (n > 0 && pwrite(w->fd, buf, (size_t)n, out) != n)
				n = -1;
			if (n > 0) {
				in += n;
				out += n;
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail(w, n < 0 ? -errno : -EIO, "'%s': copy failed: %s", w->data_path,
				    n < 0 ? strerror(errno) : "source too short");
		len -= n;
	}
	return 0;
}

int bundle_writer_add_from_fd(struct bundle_writer *w, const struct bundle_entry *e, int src_fd,
			      int64_t src_off)
{
	if (w->err)
		return w->err;
	if (!e->n_slices && copy_range(w, src_fd, src_off, e->size))
		return w->err;
	return add_entry(w, e, e->size, bundle_crc_unmask(e->crc32c));
}

int bundle_writer_add_alias(struct bundle_writer *w, const struct bundle_entry *e, int64_t offset)
{
	struct bundle_entry *c;

	if (w->err)
		return w->err;
	if (e->n_slices || offset < 0 || e->size > w->off - offset)
		return fail(w, -EINVAL, "tensor '%s': alias outside the data written", e->key);
	c = push(w, e);
	if (!c)
		return fail(w, -ENOMEM, "out of memory");
	c->shard_id = 0;
	c->offset = offset;
	return 0;
}

int64_t bundle_writer_size(const struct bundle_writer *w) { return w->off; }

int bundle_writer_add_zeros(struct bundle_writer *w, const struct bundle_entry *e)
{
	if (w->err)
		return w->err;
	return add_entry(w, e, e->size, util_crc32c_zeros(0, (uint64_t)e->size));
}

static int cmp_key(const void *a, const void *b)
{
	const struct bundle_entry *x = a, *y = b;

	return bundle_key_cmp(x->key, x->key_len, y->key, y->key_len);
}

static int build_index(struct bundle_writer *w, uint8_t **buf, size_t *len)
{
	struct bundle_index_builder *b;
	int rc;

	qsort(w->items, w->n, sizeof(*w->items), cmp_key);
	for (size_t i = 1; i < w->n; i++)
		if (cmp_key(&w->items[i - 1], &w->items[i]) == 0)
			return fail(w, -EINVAL, "duplicate tensor '%s'", w->items[i].key);
	rc = bundle_index_builder_new(1, &b);
	if (rc)
		return fail(w, rc, "out of memory");
	for (size_t i = 0; i < w->n; i++)
		bundle_index_builder_add(b, w->items[i].key, w->items[i].key_len, &w->items[i]);
	rc = bundle_index_builder_finish(b, buf, len, w->msg, sizeof(w->msg));
	bundle_index_builder_free(b);
	return rc ? (w->err = rc) : 0;
}

static int write_index(struct bundle_writer *w, const uint8_t *buf, size_t len)
{
	int fd = open(w->index_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	size_t done = 0;

	if (fd < 0)
		return fail(w, -errno, "'%s': cannot create: %s", w->index_path, strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return fail(w, -errno, "'%s': write failed: %s", w->index_path,
				    strerror(errno));
		}
		done += (size_t)n;
	}
	if (close(fd) < 0)
		return fail(w, -errno, "'%s': close failed: %s", w->index_path, strerror(errno));
	return 0;
}

int bundle_writer_finish(struct bundle_writer *w, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	/* ftruncate makes holes left by add_zeros at the end real. */
	if (!w->err && ftruncate(w->fd, w->off) < 0)
		fail(w, -errno, "'%s': cannot extend: %s", w->data_path, strerror(errno));
	if (!w->err && close(w->fd) < 0)
		fail(w, -errno, "'%s': close failed: %s", w->data_path, strerror(errno));
	w->fd = -1;
	if (!w->err && build_index(w, &buf, &len) == 0 && write_index(w, buf, len) == 0) {
		if (rename(w->data_tmp, w->data_path) < 0 ||
		    rename(w->index_tmp, w->index_path) < 0)
			fail(w, -errno, "'%s': cannot rename into place: %s", w->index_path,
			     strerror(errno));
	}
	free(buf);
	if (w->err)
		return bundle_errf(err, errlen, w->err, "%s", w->msg);
	w->done = 1;
	return 0;
}

void bundle_writer_free(struct bundle_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (!w->done) {
		if (w->data_tmp)
			unlink(w->data_tmp);
		if (w->index_tmp)
			unlink(w->index_tmp);
	}
	free(w->data_path);
	free(w->data_tmp);
	free(w->index_path);
	free(w->index_tmp);
	free(w->items);
	util_arena_release(&w->arena);
	free(w);
}
