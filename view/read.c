/*
 * read.c - the data path: translate a read of a virtual file into pieces
 * of the source shards (view_map_range, for the daemon's zero-copy
 * replies) or copy the bytes (view_read).
 */
#include "view/view_impl.h"

#include <errno.h>
#include <string.h>

#include "store/store.h"
#include "util/util.h"

/* The extent holding virtual offset off (off < file size). */
static size_t find_extent(const struct view_data *d, uint64_t off)
{
	size_t lo = 0, hi = d->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->ext[mid].voff <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Call fn on each piece of [off, off+len) of data file d (off < the file's
 * size, len clipped to it): the extent it lies in, and the piece's range
 * in that extent's source (soff) and length. Stops at the first non-zero
 * return, which it returns.
 */
static int each_piece(const struct view_data *d, uint64_t off, size_t len,
		      int (*fn)(const struct view_extent *x, int64_t soff, size_t n, void *ctx),
		      void *ctx)
{
	for (size_t i = find_extent(d, off); len; i++) {
		const struct view_extent *x = &d->ext[i];
		uint64_t skip = off - x->voff;
		size_t take = x->len - skip < len ? (size_t)(x->len - skip) : len;
		int rc = fn(x, x->soff + (int64_t)skip, take, ctx);

		if (rc)
			return rc;
		off += take;
		len -= take;
	}
	return 0;
}

/* Clip [*off, *off + *len) to data file `file`; 0 when nothing is left. */
static int clip(const struct view *v, size_t file, uint64_t *off, size_t *len)
{
	uint64_t size = v->files[file].size;

	if (*off >= size || *len == 0)
		return 0;
	if (*len > size - *off)
		*len = (size_t)(size - *off);
	return 1;
}

struct pieces {
	struct view_piece *out;
	size_t max, n;
};

static int add_piece(const struct view_extent *x, int64_t soff, size_t n, void *ctx)
{
	struct pieces *p = ctx;

	if (p->n == p->max)
		return -E2BIG;
	p->out[p->n++] = (struct view_piece){ x->fd, soff, n };
	return 0;
}

int view_map_range(const struct view *v, size_t file, uint64_t off, size_t len,
		   struct view_piece *out, size_t max, size_t *n)
{
	struct pieces p = { out, max, 0 };
	int rc;

	if (file >= v->n_files || !view_file_is_extents(&v->files[file]))
		return -EINVAL;
	*n = 0;
	if (!clip(v, file, &off, &len))
		return 0;
	rc = each_piece(&v->data[file], off, len, add_piece, &p);
	*n = p.n;
	return rc;
}

/* The read-ahead window: from MIN, doubled by each read that goes on
 * where the last one ended, up to MAX; a batch is at least half of it,
 * so each background fetch is one of many parts in parallel. */
#define RA_MIN ((uint64_t)8 << 20)
#define RA_MAX ((uint64_t)64 << 20)

struct store_obj *view_extent_obj(const struct view *v, const struct view_extent *x)
{
	if (!v->store || x->fd < 0)
		return NULL;
	for (size_t i = 0; i < v->n_fds; i++)
		if (v->fds[i] == x->fd)
			return v->objs[i];
	return NULL;
}

int view_is_remote(const struct view *v) { return v->store != NULL; }

/* What a piece's fetch needs: the view, and where a failure is told. */
struct demand {
	const struct view *v;
	char *err;
	size_t errlen;
};

/* Fetch a piece of a remote source (nothing to do for a local one). */
static int fetch_piece(const struct view_extent *x, int64_t soff, size_t n, void *ctx)
{
	struct demand *d = ctx;
	struct store_obj *o = view_extent_obj(d->v, x);

	return o ? store_obj_fetch(o, (uint64_t)soff, n, 0, d->err, d->errlen) : 0;
}

/* Start fetching a piece of a remote source in the background. */
static int prefetch_piece(const struct view_extent *x, int64_t soff, size_t n, void *ctx)
{
	const struct demand *d = ctx;
	struct store_obj *o = view_extent_obj(d->v, x);

	if (o)
		store_obj_prefetch(o, (uint64_t)soff, n);
	return 0;
}

/* Read ahead of a read that ended at end (off: where it started). */
static void read_ahead(const struct view *v, const struct view_data *d, uint64_t size,
		       struct view_readahead *ra, uint64_t off, uint64_t end)
{
	uint64_t next = __atomic_load_n(&ra->next, __ATOMIC_RELAXED);
	uint64_t win = __atomic_load_n(&ra->win, __ATOMIC_RELAXED);
	uint64_t issued = __atomic_load_n(&ra->issued, __ATOMIC_RELAXED);
	/* "goes on": starts near where the last read ended (readers on
	 * several threads interleave within the window) */
	uint64_t slack = win ? win : RA_MIN;
	struct demand bg = { v, NULL, 0 };
	int going_on = next && off + slack >= next && off <= next + slack;
	uint64_t from, to;

	win = !going_on ? 0 : !win ? RA_MIN : win * 2 > RA_MAX ? RA_MAX : win * 2;
	__atomic_store_n(&ra->next, end, __ATOMIC_RELAXED);
	__atomic_store_n(&ra->win, win, __ATOMIC_RELAXED);
	if (!win) {
		__atomic_store_n(&ra->issued, end, __ATOMIC_RELAXED);
		return;
	}
	from = issued > end && issued <= end + RA_MAX ? issued : end;
	to = end + win < size ? end + win : size;
	if (to <= from || (to - from < win / 2 && from > end))
		return; /* enough is on its way: wait for a bigger batch */
	__atomic_store_n(&ra->issued, to, __ATOMIC_RELAXED);
	each_piece(d, from, (size_t)(to - from), prefetch_piece, &bg);
}

int view_fetch_range(const struct view *v, size_t file, uint64_t off, size_t len,
		     struct view_readahead *ra, char *err, size_t errlen)
{
	struct demand dm = { v, err, errlen };
	int rc;

	if (!v->store || file >= v->n_files || !view_file_is_extents(&v->files[file]) ||
	    !clip(v, file, &off, &len))
		return 0;
	rc = each_piece(&v->data[file], off, len, fetch_piece, &dm);
	if (rc == 0 && ra)
		read_ahead(v, &v->data[file], v->files[file].size, ra, off, off + len);
	return rc;
}

static int64_t read_pieces(const struct view_piece *p, size_t n, char *buf)
{
	int64_t done = 0;

	for (size_t i = 0; i < n; i++) {
		ssize_t got;

		if (p[i].fd < 0) { /* bytes of tensors the merge hides */
			memset(buf + done, 0, p[i].len);
			done += (int64_t)p[i].len;
			continue;
		}
		got = util_pread_full(p[i].fd, buf + done, p[i].len, p[i].off);

		if (got < 0)
			return got;
		if ((size_t)got < p[i].len)
			return -EIO; /* a source truncated after mount */
		done += got;
	}
	return done;
}

int64_t view_read(const struct view *v, size_t file, uint64_t off, size_t len, void *buf)
{
	const struct view_file *f = view_file_at(v, file);
	struct view_piece pieces[64];
	int64_t total = 0;

	if (!f)
		return -EINVAL;
	if (!view_file_is_extents(f)) {
		if (off >= f->size)
			return 0;
		len = len < f->size - off ? len : (size_t)(f->size - off);
		memcpy(buf, f->mem + off, len);
		return (int64_t)len;
	}
	if (view_fetch_range(v, file, off, len, NULL, NULL, 0))
		return -EIO;
	while (len) {
		size_t n, chunk = len;
		int rc;

		/* halve the chunk until its pieces fit the stack array */
		while ((rc = view_map_range(v, file, off, chunk, pieces, 64, &n)) == -E2BIG)
			chunk /= 2;
		if (rc)
			return rc;
		if (n == 0)
			break;
		int64_t got = read_pieces(pieces, n, (char *)buf + total);
		if (got < 0)
			return got;
		total += got;
		off += (uint64_t)got;
		len -= (size_t)got;
	}
	return total;
}
