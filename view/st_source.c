/*
 * st_source.c - a safetensors source (a FILE.safetensors, or a Hugging
 * Face model directory: model.safetensors, or model.safetensors.index.json
 * and its shards) opened as a bundle_reader, so that the plan, the layout
 * and every front end read it as they read a checkpoint. Each file's
 * header is parsed strictly (safetensors_parse); the index.json must
 * agree with the headers exactly; the tensors become the entries of a
 * synthetic .index (bundle_reader_adopt) whose offsets are file offsets
 * (8 + N + data_offsets.begin) and whose CRC32Cs are unknown: layout.c
 * computes them for the tensors a TensorFlow output uses (st_crc.c).
 */
#include "view/view_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors/safetensors.h"
#include "util/util.h"

static const char index_json[] = "model.safetensors.index.json";
static const char single_file[] = "model.safetensors";

/* One file's header and where its data begins. */
struct st_file {
	char *path; /* owned */
	int fd;     /* owned until adopted; -1 after */
	int64_t size;
	uint64_t data_at; /* 8 + N */
	struct safetensors_header *h;
};

/* One tensor of the source: a file's tensor t, for sorting by name. */
struct st_ref {
	const struct safetensors_tensor *t;
	uint32_t file;
};

struct st_open {
	const char *name; /* the source path, for messages */
	unsigned flags;
	struct st_file *files; /* owned, n_files items */
	size_t n_files;
	struct safetensors_index *ix; /* owned; NULL for one file */
	char *ix_path;                /* owned */
	struct st_ref *refs;          /* owned, n_refs items, by name */
	size_t n_refs;
	char *err;
	size_t errlen;
};

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);

	return n >= k && !strcmp(s + n - k, tail);
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int exists_in(const char *dir, const char *name)
{
	char *p = join(dir, name);
	struct stat st;
	int yes = p && stat(p, &st) == 0;

	free(p);
	return yes;
}

int view_is_safetensors_source(const char *path)
{
	struct stat st;

	if (mapping_is_url(path) || stat(path, &st) != 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return ends_with(path, ".safetensors");
	return exists_in(path, index_json) || exists_in(path, single_file);
}

/* Read n bytes at off of f, into a malloc'd buffer. */
static int read_at(struct st_open *o, const struct st_file *f, uint64_t off, size_t n,
		   uint8_t **out)
{
	uint8_t *b = malloc(n ? n : 1);
	ssize_t got = b ? util_pread_full(f->fd, b, n, (off_t)off) : -ENOMEM;

	if (got < 0 || (size_t)got != n) {
		free(b);
		return view_errf(o->err, o->errlen, got < 0 ? (int)got : -EIO, NULL, "'%s': %s",
				 f->path,
				 got < 0 ? strerror((int)-got) : "file shorter than its header");
	}
	*out = b;
	return 0;
}

static int open_file(struct st_open *o, struct st_file *f)
{
	char msg[BUNDLE_ERR_MAX];
	uint8_t *prefix = NULL, *json = NULL;
	uint64_t n = 0;
	int rc;

	f->fd = bundle_open_source_file(f->path, "safetensors file", o->flags, &f->size, o->err,
					o->errlen);
	if (f->fd < 0)
		return f->fd;
	rc = read_at(o, f, 0, f->size < 8 ? (size_t)f->size : 8, &prefix);
	if (rc == 0 && f->size < 8)
		rc = view_errf(o->err, o->errlen, -EBADMSG, NULL,
			       "'%s': not a safetensors file (%lld bytes)", f->path,
			       (long long)f->size);
	if (rc == 0 &&
	    (rc = safetensors_header_len(prefix, (uint64_t)f->size, &n, msg, sizeof(msg))))
		view_errf(o->err, o->errlen, rc, NULL, "'%s': %s", f->path, msg);
	if (rc == 0)
		rc = read_at(o, f, 8, (size_t)n, &json);
	if (rc == 0 && (rc = safetensors_parse(json, (size_t)n, (uint64_t)f->size - 8 - n, &f->h,
					       msg, sizeof(msg))))
		view_errf(o->err, o->errlen, rc, NULL, "'%s': %s", f->path, msg);
	f->data_at = 8 + n;
	free(prefix);
	free(json);
	return rc;
}

/* The index.json of directory dir: parsed, its shards named. */
static int read_index(struct st_open *o, const char *dir)
{
	char msg[BUNDLE_ERR_MAX];
	struct st_file jf = { .fd = -1 };
	uint8_t *json = NULL;
	int rc;

	o->ix_path = join(dir, index_json);
	if (!o->ix_path)
		return -ENOMEM;
	jf.path = o->ix_path;
	jf.fd = bundle_open_source_file(o->ix_path, "index", o->flags, &jf.size, o->err, o->errlen);
	if (jf.fd < 0)
		return jf.fd;
	rc = jf.size > SAFETENSORS_MAX_HEADER
		     ? view_errf(o->err, o->errlen, -EFBIG, NULL, "'%s': over %d bytes", o->ix_path,
				 SAFETENSORS_MAX_HEADER)
		     : read_at(o, &jf, 0, (size_t)jf.size, &json);
	close(jf.fd);
	if (rc == 0) {
		size_t n = strlen(o->ix_path) + 3;
		char *what = malloc(n); /* quoted, as messages quote a file */

		if (what)
			snprintf(what, n, "'%s'", o->ix_path);
		rc = what ? safetensors_index_parse(json, (size_t)jf.size, what, &o->ix, msg,
						    sizeof(msg))
			  : -ENOMEM;
		if (rc && rc != -ENOMEM)
			view_errf(o->err, o->errlen, rc, NULL, "%s", msg);
		free(what);
	}
	free(json);
	return rc;
}

/* The files of the source: one, or the index's shards. */
static int list_files(struct st_open *o, const char *path)
{
	struct stat st;
	int dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	int rc = dir && exists_in(path, index_json) ? read_index(o, path) : 0;
	size_t n = o->ix ? o->ix->n_files : 1;

	if (rc)
		return rc;
	o->files = calloc(n ? n : 1, sizeof(*o->files));
	if (!o->files)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		o->files[i].fd = -1;
		o->files[i].path = o->ix ? join(path, o->ix->files[i])
				   : dir ? join(path, single_file)
					 : strdup(path);
		if (!o->files[i].path)
			return -ENOMEM;
		o->n_files++;
	}
	return 0;
}

static int open_files(struct st_open *o)
{
	for (size_t i = 0; i < o->n_files; i++) {
		char msg[BUNDLE_ERR_MAX];
		int rc = open_file(o, &o->files[i]);

		if (rc && o->ix) {
			snprintf(msg, sizeof(msg), "%s", o->err ? o->err : "");
			return view_errf(o->err, o->errlen, rc, NULL, "'%s' names shard '%s': %s",
					 o->ix_path, o->ix->files[i], msg);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct st_ref *x = a, *y = b;

	return bundle_key_cmp(x->t->name, x->t->name_len, y->t->name, y->t->name_len);
}

/* Every tensor of every file, by name; a name in two files is refused. */
static int collect(struct st_open *o)
{
	char a[VIEW_SHOWN_MAX];
	size_t n = 0;

	for (size_t i = 0; i < o->n_files; i++)
		n += o->files[i].h->n;
	o->refs = malloc((n ? n : 1) * sizeof(*o->refs));
	if (!o->refs)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_files; i++)
		for (size_t k = 0; k < o->files[i].h->n; k++)
			o->refs[o->n_refs++] = (struct st_ref){ &o->files[i].h->t[k], (uint32_t)i };
	if (n)
		qsort(o->refs, n, sizeof(*o->refs), cmp_ref);
	for (size_t i = 0; i < n; i++) {
		const struct st_ref *r = &o->refs[i];

		if (r->t->name_len == 0 || r->t->name[0] == '\0')
			return view_errf(
				o->err, o->errlen, -ENOTSUP, NULL,
				"'%s': tensor '%s': a name that is empty or begins with a NUL byte cannot be a checkpoint key",
				o->files[r->file].path, view_shown(a, r->t->name, r->t->name_len));
		if (i && !cmp_ref(&o->refs[i - 1], r))
			return view_errf(o->err, o->errlen, -EBADMSG, NULL,
					 "tensor '%s' is in both '%s' and '%s'",
					 view_shown(a, r->t->name, r->t->name_len),
					 o->files[o->refs[i - 1].file].path,
					 o->files[r->file].path);
	}
	return 0;
}

/* The index.json and the headers name the same tensors in the same files. */
static int check_index(struct st_open *o)
{
	const struct safetensors_index *ix = o->ix;
	char a[VIEW_SHOWN_MAX];
	size_t i = 0, k = 0;

	while (i < o->n_refs || k < ix->n) {
		const struct st_ref *r = i < o->n_refs ? &o->refs[i] : NULL;
		const struct safetensors_index_entry *e = k < ix->n ? &ix->t[k] : NULL;
		int c = !r   ? 1
			: !e ? -1
			     : bundle_key_cmp(r->t->name, r->t->name_len, e->name, e->name_len);

		if (c < 0)
			return view_errf(o->err, o->errlen, -EBADMSG, NULL,
					 "'%s' does not name tensor '%s' of '%s'", o->ix_path,
					 view_shown(a, r->t->name, r->t->name_len),
					 o->files[r->file].path);
		if (c > 0)
			return view_errf(
				o->err, o->errlen, -EBADMSG, NULL,
				"'%s' names tensor '%s' in '%s', whose header has no such tensor",
				o->ix_path, view_shown(a, e->name, e->name_len),
				o->files[e->file].path);
		if (e->file != r->file)
			return view_errf(o->err, o->errlen, -EBADMSG, NULL,
					 "'%s' names tensor '%s' in '%s', but it is in '%s'",
					 o->ix_path, view_shown(a, e->name, e->name_len),
					 o->files[e->file].path, o->files[r->file].path);
		i++, k++;
	}
	return 0;
}

/* The synthetic .index of the tensors, in key order. */
static int build_index(struct st_open *o, uint8_t **out, size_t *len)
{
	struct bundle_index_builder *b;
	int rc = bundle_index_builder_new((int)o->n_files, &b);

	for (size_t i = 0; rc == 0 && i < o->n_refs; i++) {
		const struct safetensors_tensor *t = o->refs[i].t;
		const struct bundle_entry e = {
			.key = t->name,
			.key_len = t->name_len,
			/* dims are at most INT64_MAX (safetensors_parse) */
			.dims = (int64_t *)t->dims,
			.offset = (int64_t)(o->files[o->refs[i].file].data_at + t->begin),
			.size = (int64_t)(t->end - t->begin),
			.dtype = t->dtype,
			.rank = t->rank,
			.shard_id = (int32_t)o->refs[i].file,
		};

		rc = bundle_index_builder_add(b, t->name, t->name_len, &e);
	}
	if (rc == 0)
		rc = bundle_index_builder_finish(b, out, len, o->err, o->errlen);
	bundle_index_builder_free(b);
	return rc;
}

static int adopt(struct st_open *o, struct bundle_reader **out)
{
	struct bundle_shard_file *s = calloc(o->n_files ? o->n_files : 1, sizeof(*s));
	uint8_t *idx = NULL;
	size_t len = 0;
	int rc = s ? build_index(o, &idx, &len) : -ENOMEM;

	if (rc == 0) {
		for (size_t i = 0; i < o->n_files; i++) {
			s[i] = (struct bundle_shard_file){ o->files[i].path, o->files[i].fd,
							   o->files[i].size };
			o->files[i].fd = -1; /* the reader's now, whatever happens */
		}
		rc = bundle_reader_adopt(o->name, idx, len, s, o->n_files, out, o->err, o->errlen);
	}
	free(idx);
	free(s);
	return rc;
}

static void release(struct st_open *o)
{
	for (size_t i = 0; i < o->n_files; i++) {
		if (o->files[i].fd >= 0)
			close(o->files[i].fd);
		free(o->files[i].path);
		safetensors_header_free(o->files[i].h);
	}
	free(o->files);
	free(o->refs);
	free(o->ix_path);
	safetensors_index_free(o->ix);
}

int view_open_safetensors(const char *path, unsigned flags, struct bundle_reader **out, char *err,
			  size_t errlen)
{
	struct st_open o = { .name = path, .flags = flags, .err = err, .errlen = errlen };
	int rc = list_files(&o, path);

	if (rc == 0)
		rc = open_files(&o);
	if (rc == 0)
		rc = collect(&o);
	if (rc == 0 && o.ix)
		rc = check_index(&o);
	if (rc == 0)
		rc = adopt(&o, out);
	if (rc == -ENOMEM)
		view_errf(err, errlen, rc, NULL, "'%s': out of memory", path);
	release(&o);
	return rc;
}

int view_open_source(const char *path, unsigned flags, struct store *st, struct bundle_reader **out,
		     char *err, size_t errlen)
{
	if (view_is_safetensors_source(path))
		return view_open_safetensors(path, flags, out, err, errlen);
	return bundle_open_store(path, flags, st, out, err, errlen);
}
