/*
 * view.c - build, query and serve a view (see view.h): the public face of
 * plan.c (what is merged) and layout.c (where its bytes are).
 */
#include "fs/view_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int view_warn(struct view *v, const struct mapping_pos *pos,
	      const char *fmt, ...)
{
	char msg[1024];
	char **w = realloc(v->warnings, (v->n_warnings + 1) * sizeof(*w));
	va_list ap;

	if (!w)
		return -ENOMEM;
	v->warnings = w;
	va_start(ap, fmt);
	mapping_vdiag(msg, sizeof(msg), 0, pos, "warning", fmt, ap);
	va_end(ap);
	w[v->n_warnings] = strdup(msg);
	if (!w[v->n_warnings])
		return -ENOMEM;
	v->n_warnings++;
	return 0;
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int check_options(struct view *v, const struct view_options *opt,
			 char *err, size_t errlen)
{
	const char *prefix = opt && opt->prefix ? opt->prefix : v->m->prefix;

	v->layout = opt && opt->layout >= 0 ? (enum mapping_layout)opt->layout
					     : v->m->layout;
	if (!*prefix || strchr(prefix, '/') || !strcmp(prefix, ".") ||
	    !strcmp(prefix, "..") || !strcmp(prefix, "checkpoint") ||
	    has_control(prefix)) {
		snprintf(err, errlen, "invalid prefix '%s' (a file name, without '/' or control characters)",
			 prefix);
		return -EINVAL;
	}
	if (v->layout != MAPPING_LAYOUT_SINGLE && v->layout != MAPPING_LAYOUT_SHARDS) {
		snprintf(err, errlen, "invalid layout %d", (int)v->layout);
		return -EINVAL;
	}
	v->prefix = strdup(prefix);
	v->readers = calloc(v->m->n_sources + 1, sizeof(*v->readers));
	v->source_tensors = calloc(v->m->n_sources + 1, sizeof(size_t));
	if (!v->prefix || !v->readers || !v->source_tensors) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int view_build(const struct mapping *m, const struct view_options *opt,
	       struct view **out, char *err, size_t errlen)
{
	struct view *v = calloc(1, sizeof(*v));
	int rc;

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	v->m = m;
	rc = check_options(v, opt, err, errlen);
	if (rc == 0)
		rc = plan_resolve(v, err, errlen);
	if (rc == 0)
		rc = layout_build(v, err, errlen);
	if (rc) {
		view_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

static void free_targets(struct view *v)
{
	for (size_t i = 0; i < v->n_targets; i++)
		free(v->targets[i].key);
	free(v->targets);
	v->targets = NULL;
	v->n_targets = v->cap_targets = 0;
}

static void close_readers(struct view *v)
{
	for (size_t i = 0; v->readers && i < v->m->n_sources; i++)
		bundle_close(v->readers[i]);
	free(v->readers);
	v->readers = NULL;
}

void view_compact(struct view *v)
{
	free_targets(v);
	close_readers(v);
}

void view_free(struct view *v)
{
	if (!v)
		return;
	view_compact(v);
	for (size_t i = 0; i < v->n_fds; i++)
		close(v->fds[i]);
	for (size_t i = 0; i < v->n_files; i++) {
		free((char *)v->files[i].name);
		free(v->data[i].ext);
	}
	for (size_t i = 0; i < v->n_warnings; i++)
		free(v->warnings[i]);
	free(v->warnings);
	free(v->fds);
	free(v->files);
	free(v->data);
	free(v->index);
	free(v->state);
	free(v->source_tensors);
	free(v->prefix);
	free(v);
}

size_t view_num_warnings(const struct view *v) { return v->n_warnings; }
const char *view_warning(const struct view *v, size_t i) { return v->warnings[i]; }
size_t view_num_tensors(const struct view *v) { return v->n_targets; }
uint64_t view_tensor_bytes(const struct view *v) { return v->tensor_bytes; }
const char *view_prefix(const struct view *v) { return v->prefix; }
enum mapping_layout view_layout(const struct view *v) { return v->layout; }
size_t view_num_files(const struct view *v) { return v->n_files; }

void view_tensor_at(const struct view *v, size_t i, struct view_tensor *out)
{
	const struct view_target *t = &v->targets[i];

	*out = (struct view_tensor){ t->key, t->key_len, &t->out, t->source,
				     t->src->key, t->src->key_len, t->src,
				     bundle_shard_fd(v->readers[t->source],
						     t->src->shard_id) };
}

char *view_data_source_path(const struct view *v, size_t file)
{
	const struct view_data *d;
	const struct bundle_reader *r;
	char *s;
	size_t n;

	if (file >= v->n_files || v->files[file].kind != VIEW_FILE_DATA ||
	    v->layout != MAPPING_LAYOUT_SHARDS || !v->readers || !v->data[file].n)
		return NULL;
	d = &v->data[file];
	r = v->readers[d->source];
	n = strlen(bundle_prefix(r)) + 64;
	s = malloc(n);
	if (s)
		snprintf(s, n, "%s.data-%05d-of-%05d", bundle_prefix(r), d->shard,
			 bundle_num_shards(r));
	return s;
}

const char *view_source_prefix(const struct view *v, size_t source)
{
	return bundle_prefix(v->readers[source]);
}

size_t view_source_tensors(const struct view *v, size_t source)
{
	return v->source_tensors[source];
}

const struct view_file *view_file_at(const struct view *v, size_t i)
{
	return i < v->n_files ? &v->files[i] : NULL;
}

long view_lookup(const struct view *v, const char *name)
{
	for (size_t i = 0; i < v->n_files; i++)
		if (!strcmp(v->files[i].name, name))
			return (long)i;
	return -1;
}

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

int view_map_range(const struct view *v, size_t file, uint64_t off,
		   size_t len, struct view_piece *out, size_t max, size_t *n)
{
	const struct view_data *d;
	uint64_t size;

	if (file >= v->n_files || v->files[file].kind != VIEW_FILE_DATA)
		return -EINVAL;
	d = &v->data[file];
	size = v->files[file].size;
	*n = 0;
	if (off >= size || len == 0)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	for (size_t i = find_extent(d, off); len; i++) {
		const struct view_extent *x = &d->ext[i];
		uint64_t skip = off - x->voff;
		size_t take = x->len - skip < len ? (size_t)(x->len - skip) : len;

		if (*n == max)
			return -E2BIG;
		out[(*n)++] = (struct view_piece){ x->fd, x->soff + (int64_t)skip,
						   take };
		off += take;
		len -= take;
	}
	return 0;
}

static int64_t read_pieces(const struct view_piece *p, size_t n, char *buf)
{
	int64_t done = 0;

	for (size_t i = 0; i < n; i++) {
		size_t got = 0;

		while (got < p[i].len) {
			ssize_t r = pread(p[i].fd, buf + done + got, p[i].len - got,
					  p[i].off + (int64_t)got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return r < 0 ? -errno : -EIO; /* truncated source */
			got += (size_t)r;
		}
		done += (int64_t)got;
	}
	return done;
}

int64_t view_read(const struct view *v, size_t file, uint64_t off,
		  size_t len, void *buf)
{
	const struct view_file *f = view_file_at(v, file);
	struct view_piece pieces[64];
	int64_t total = 0;

	if (!f)
		return -EINVAL;
	if (f->kind != VIEW_FILE_DATA) {
		if (off >= f->size)
			return 0;
		len = len < f->size - off ? len : (size_t)(f->size - off);
		memcpy(buf, f->mem + off, len);
		return (int64_t)len;
	}
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
