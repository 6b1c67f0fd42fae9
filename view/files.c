/*
 * files.c - the `file` lines of a mapping: small files the mount shows
 * unchanged beside the merge (a model's config.json, tokenizer.json), so
 * that the mount is a complete model directory. Each is read whole when
 * the view is built and served from memory: what the mount shows is what
 * was there at mount time, as the shards it pins.
 */
#include "view/view_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

/* The most a `file` may hold: tokenizer.json files run to tens of MB. */
#define FILE_MAX (256u << 20)

/* Whether a path inside a source's directory stays inside it. */
static int inside(const char *path)
{
	const char *c = path;

	if (!*path || path[0] == '/')
		return 0;
	while (*c) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 2 && !strncmp(c, "..", 2)) || (n == 1 && *c == '.'))
			return 0;
		c += n + (c[n] == '/');
	}
	return path[strlen(path) - 1] != '/';
}

/* The path file f names: a local one's, or PATH in its source's directory. */
static int file_path(const struct view *v, const struct mapping_file *f, char **out, char *err,
		     size_t errlen)
{
	const struct mapping_source *s;
	struct stat st;
	size_t n;
	char *p, *slash;

	if (f->source < 0) {
		*out = strdup(f->resolved_path);
		return *out ? 0 : view_errf(err, errlen, -ENOMEM, &f->pos, "out of memory");
	}
	s = &v->m->sources[f->source];
	if (mapping_is_url(s->resolved_path))
		return view_errf(
			err, errlen, -ENOTSUP, &f->path_pos,
			"file '%s': source '%s' is remote: only a local source's files are shown",
			f->name, s->name);
	if (!inside(f->path))
		return view_errf(err, errlen, -EINVAL, &f->path_pos,
				 "file '%s': '%s' is not a path inside source '%s''s directory",
				 f->name, f->path, s->name);
	n = strlen(s->resolved_path) + strlen(f->path) + 2;
	p = malloc(n);
	if (!p)
		return view_errf(err, errlen, -ENOMEM, &f->pos, "out of memory");
	snprintf(p, n, "%s", s->resolved_path);
	/* a directory source holds its files; a file or prefix source's are beside it */
	if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
		slash = strrchr(p, '/');
		if (slash)
			slash[1] = '\0';
		else
			p[0] = '\0';
	}
	snprintf(p + strlen(p), n - strlen(p), "%s%s", *p && p[strlen(p) - 1] != '/' ? "/" : "",
		 f->path);
	*out = p;
	return 0;
}

/* Read file f whole into *mem (malloc'd, *len bytes). */
static int read_file(const struct view *v, const struct mapping_file *f, const char *path,
		     uint8_t **mem, size_t *len, char *err, size_t errlen)
{
	char msg[BUNDLE_ERR_MAX];
	int64_t size = 0;
	int fd = bundle_open_source_file(path, "file", v->open_flags, &size, msg, sizeof(msg));
	uint8_t *b;
	ssize_t got;

	if (fd < 0)
		return view_errf(err, errlen, fd, &f->path_pos, "file '%s': %s", f->name, msg);
	if (size > FILE_MAX) {
		close(fd);
		return view_errf(err, errlen, -EFBIG, &f->path_pos,
				 "file '%s': '%s' is %lld bytes, more than a file line shows (%u)",
				 f->name, path, (long long)size, FILE_MAX);
	}
	b = malloc(size ? (size_t)size : 1);
	got = b ? util_pread_full(fd, b, (size_t)size, 0) : -ENOMEM;
	close(fd);
	if (got != size) {
		free(b);
		return view_errf(err, errlen, got < 0 ? (int)got : -EIO, &f->path_pos,
				 "file '%s': cannot read '%s': %s", f->name, path,
				 got < 0 ? strerror((int)-got) : "it shrank while being read");
	}
	*mem = b;
	*len = (size_t)size;
	return 0;
}

static int add_one(struct view *v, const struct mapping_file *f, char *err, size_t errlen)
{
	uint8_t *mem = NULL;
	size_t len = 0;
	char *path = NULL, *name;
	int rc;

	if (view_lookup(v, f->name) >= 0)
		return view_errf(err, errlen, -EEXIST, &f->pos,
				 "file '%s' would hide a file of the merge of that name", f->name);
	rc = file_path(v, f, &path, err, errlen);
	if (rc == 0)
		rc = read_file(v, f, path, &mem, &len, err, errlen);
	free(path);
	if (rc)
		return rc;
	name = strdup(f->name);
	rc = view_add_meta(v, name, mem, len);
	return rc ? view_errf(err, errlen, rc, &f->pos, "out of memory") : 0;
}

int files_add(struct view *v, char *err, size_t errlen)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < v->m->n_files; i++)
		rc = add_one(v, &v->m->files[i], err, errlen);
	return rc;
}
