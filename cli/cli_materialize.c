/*
 * cli_materialize.c - `ckptfs materialize MAPPING OUT_PREFIX [--link]
 * [--force]`: make the merged checkpoint real on disk.
 *
 * Default: a normal single-shard checkpoint; tensor bytes are copied with
 * copy_file_range (a reflink or in-kernel copy where the file system can)
 * and CRCs are carried over, since the bytes do not change.
 * --link: the `shards` layout on disk: OUT.index plus one symlink per used
 * source shard. Nothing is copied and no daemon is needed, but the sources
 * must stay where they are.
 * Everything is written under temporary names and renamed into place,
 * index last, so an interrupted run leaves no half-written checkpoint;
 * then OUT_PREFIX's directory gets a `checkpoint` state file naming it.
 * An output file that is a file of a source, however OUT_PREFIX is
 * spelled, is refused before anything is written: the rename would
 * replace the source (with --link, by a symlink to itself).
 */
#define _GNU_SOURCE /* getrandom */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/help.h"
#include "util/util.h"
#include "view/view.h"

struct progress {
	uint64_t done, total;
	int on;   /* stderr is a terminal */
	int last; /* last percentage shown */
};

static void progress_step(struct progress *p, uint64_t n)
{
	int pct;

	p->done += n;
	if (!p->on || !p->total)
		return;
	pct = (int)(100 * p->done / p->total);
	if (pct == p->last)
		return;
	p->last = pct;
	fprintf(stderr, "\rmaterializing: %3d%% [%-40.*s]", pct, pct * 40 / 100,
		"########################################");
	if (pct == 100)
		fputc('\n', stderr);
}

/* Where a tensor's bytes are in its source: equal keys mean shared bytes. */
struct located {
	int fd;
	int64_t off, size;
	size_t tensor;
};

static int cmp_located(const void *a, const void *b)
{
	const struct located *x = a, *y = b;

	if (x->fd != y->fd)
		return x->fd < y->fd ? -1 : 1;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return (x->tensor > y->tensor) - (x->tensor < y->tensor);
}

static int same_range(const struct located *x, const struct located *y)
{
	return x->fd == y->fd && x->off == y->off && x->size == y->size;
}

/*
 * Copy each distinct source range once, in source order (sequential reads
 * of the sources), and point every further name of it at the same bytes,
 * as the mount does.
 */
static int copy_tensors(const struct view *v, struct bundle_writer *w, struct progress *p)
{
	size_t n = view_num_tensors(v), k = 0;
	struct located *loc = malloc((n + 1) * sizeof(*loc));
	int64_t at = 0;
	int rc = loc ? 0 : -ENOMEM;

	for (size_t i = 0; loc && i < n; i++) {
		struct view_tensor t;

		view_tensor_at(v, i, &t);
		if (t.entry.n_slices)
			rc = rc ? rc : bundle_writer_add(w, &t.entry, NULL, 0);
		else
			loc[k++] = (struct located){ t.source_fd, t.source_entry.offset,
						     t.entry.size, i };
	}
	if (loc)
		qsort(loc, k, sizeof(*loc), cmp_located);
	for (size_t i = 0; rc == 0 && i < k; i++) {
		struct view_tensor t;

		view_tensor_at(v, loc[i].tensor, &t);
		if (i && same_range(&loc[i - 1], &loc[i])) {
			rc = bundle_writer_add_alias(w, &t.entry, at);
			continue;
		}
		at = bundle_writer_size(w);
		if (!t.rewritten) /* a remote source's bytes: fetched and verified first */
			rc = bundle_fetch(view_source_reader(v, t.source), t.source_entry.shard_id,
					  loc[i].off, t.entry.size, NULL, 0);
		if (rc == 0)
			rc = bundle_writer_add_from_fd(w, &t.entry, t.source_fd, loc[i].off);
		progress_step(p, (uint64_t)t.entry.size);
	}
	free(loc);
	return rc;
}

static int write_copy(const struct view *v, const char *out)
{
	struct progress p = { 0, view_tensor_bytes(v), isatty(2), -1 };
	struct bundle_writer *w;
	char err[BUNDLE_ERR_MAX];
	int rc = bundle_writer_open(out, &w, err, sizeof(err));

	if (rc == 0) {
		copy_tensors(v, w, &p); /* a failure sticks; finish reports it */
		rc = bundle_writer_finish(w, err, sizeof(err));
		bundle_writer_free(w);
	}
	if (rc)
		cli_error("%s", err);
	return rc;
}

static char *temp_name(const char *path)
{
	size_t n = strlen(path) + 40;
	char *s = malloc(n);
	unsigned long long r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned long long)time(NULL) ^ (unsigned long long)getpid();
	if (s)
		snprintf(s, n, "%s.tempstate%llu", path, r);
	return s;
}

/* Put a symlink (target != NULL) or the bytes buf at path, atomically. */
static int place(const char *path, const char *target, const void *buf, size_t len)
{
	char *tmp = temp_name(path);
	int fd, rc = 0;

	if (!tmp)
		return -ENOMEM;
	if (target) {
		rc = symlink(target, tmp) ? -errno : 0;
	} else if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		rc = -errno;
	} else {
		if (write(fd, buf, len) != (ssize_t)len)
			rc = errno ? -errno : -EIO;
		if (close(fd) && !rc)
			rc = -errno;
	}
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		cli_error("'%s': cannot write: %s", path, strerror(-rc));
	}
	free(tmp);
	return rc;
}

static char *out_name(const char *out, const char *file, const char *prefix)
{
	size_t n = strlen(out) + strlen(file) + 1;
	char *s = malloc(n);

	/* file is PREFIX + suffix; swap the view's prefix for out */
	if (s)
		snprintf(s, n, "%s%s", out, file + strlen(prefix));
	return s;
}

/* A data file with no source file behind it, written from the view's bytes. */
static int place_memory(const struct view *v, size_t file, const char *dst)
{
	const struct view_file *f = view_file_at(v, file);
	char *buf = malloc(f->size + 1);
	int64_t got = buf ? view_read(v, file, 0, f->size, buf) : -ENOMEM;
	int rc = got == (int64_t)f->size ? place(dst, NULL, buf, f->size)
		 : got < 0               ? (int)got
					 : -EIO;

	free(buf);
	return rc;
}

static int write_links(const struct view *v, const char *out)
{
	const struct view_file *index = NULL;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < view_num_files(v); i++) {
		const struct view_file *f = view_file_at(v, i);
		char *dst = NULL, *src = NULL, abs[PATH_MAX];

		if (f->kind == VIEW_FILE_INDEX)
			index = f;
		if (f->kind != VIEW_FILE_DATA)
			continue;
		dst = out_name(out, f->name, view_prefix(v));
		src = view_data_source_path(v, i);
		if (!dst)
			rc = -ENOMEM;
		else if (!src) /* no source file: empty, or the rewritten object graph */
			rc = place_memory(v, i, dst);
		else if (!realpath(src, abs))
			rc = -errno, cli_error("'%s': %s", src, strerror(errno));
		else
			rc = place(dst, abs, NULL, 0);
		free(dst);
		free(src);
	}
	if (rc == 0 && index) {
		char *dst = out_name(out, index->name, view_prefix(v));

		rc = dst ? place(dst, NULL, index->mem, index->size) : -ENOMEM;
		free(dst);
	}
	return rc;
}

/* A file a source uses, by identity: no output may be it. */
struct used_file {
	dev_t dev;
	ino_t ino;
	char *path; /* owned; as the source names it, for the message */
	size_t source;
};

struct used_files {
	struct used_file *f;
	size_t n, cap;
};

static int add_used(struct used_files *u, const struct stat *st, const char *path, size_t source)
{
	void *p = util_grow(u->f, &u->cap, u->n + 1, sizeof(*u->f));
	char *copy = strdup(path);

	if (!p || !copy) {
		free(copy);
		return -ENOMEM;
	}
	u->f = p;
	u->f[u->n++] = (struct used_file){ st->st_dev, st->st_ino, copy, source };
	return 0;
}

/*
 * path both as a name (lstat: a symlink the source reads through is
 * replaced just the same) and as the file it leads to (stat); fd, if not
 * -1, is the file the source really has open. A path that is gone adds
 * nothing.
 */
static int add_used_path(struct used_files *u, const char *path, int fd, size_t source)
{
	struct stat st;
	int rc = 0;

	if (lstat(path, &st) == 0)
		rc = add_used(u, &st, path, source);
	if (rc == 0 && stat(path, &st) == 0)
		rc = add_used(u, &st, path, source);
	if (rc == 0 && fd >= 0 && fstat(fd, &st) == 0)
		rc = add_used(u, &st, path, source);
	return rc;
}

/* Every source's index, data shards and `checkpoint` state file. */
static int collect_used(const struct view *v, const struct mapping *m, struct used_files *u)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < m->n_sources; i++) {
		const struct bundle_reader *r = view_source_reader(v, i);
		const char *prefix = bundle_prefix(r), *dir = m->sources[i].resolved_path;
		size_t n = strlen(prefix) + strlen(dir) + 16;
		char *path = malloc(n);
		struct stat st;

		if (!path)
			return -ENOMEM;
		snprintf(path, n, "%s.index", prefix);
		rc = add_used_path(u, path, -1, i);
		/* a directory source was resolved through its state file */
		snprintf(path, n, "%s/checkpoint", dir);
		if (rc == 0 && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			rc = add_used_path(u, path, -1, i);
		free(path);
		for (int k = 0; rc == 0 && k < bundle_num_shards(r); k++) {
			char *shard = bundle_shard_path(r, k);

			rc = shard ? add_used_path(u, shard, bundle_shard_fd(r, k), i) : -ENOMEM;
			free(shard);
		}
	}
	return rc;
}

/* 0 if the output path out is no file of a source; else says so, -1. */
static int check_output(const struct used_files *u, const struct mapping *m, const char *out)
{
	struct stat st;

	/* out's own entry: the one rename() would replace */
	if (lstat(out, &st) != 0)
		return 0;
	for (size_t i = 0; i < u->n; i++) {
		if (u->f[i].dev != st.st_dev || u->f[i].ino != st.st_ino)
			continue;
		cli_error(
			"'%s' is the same file as '%s' of source '%s': refusing to overwrite a source (choose another OUT_PREFIX)",
			out, u->f[i].path, m->sources[u->f[i].source].name);
		return -1;
	}
	return 0;
}

/*
 * Refuse, before anything is written, an output file that is a source's
 * file under any spelling (./src/../src/model, a symlinked directory, a
 * hard link): every file this run would put in place is compared by
 * device and inode with every file a source uses. A symlink at an output
 * name is itself replaced, not written through, so it is no danger (and
 * what an earlier --link run leaves).
 */
static int refuse_sources(const struct view *v, const struct mapping *m, const char *out, int link)
{
	struct used_files u = { NULL, 0, 0 };
	int rc = collect_used(v, m, &u);
	char *path;

	if (rc)
		cli_error("out of memory");
	for (size_t i = 0; rc == 0 && i < view_num_files(v); i++) {
		const struct view_file *f = view_file_at(v, i);

		if (f->kind == VIEW_FILE_STATE)
			continue;
		/* a copy is always one data file; --link has the view's */
		if (!link && f->kind == VIEW_FILE_DATA)
			path = bundle_shard_name(out, 0, 1);
		else
			path = out_name(out, f->name, view_prefix(v));
		if (!path) {
			cli_error("out of memory");
			rc = -ENOMEM;
		} else {
			rc = check_output(&u, m, path);
		}
		free(path);
	}
	for (size_t i = 0; i < u.n; i++)
		free(u.f[i].path);
	free(u.f);
	return rc;
}

/* The directory part of out ("." for none), malloc'd; NULL when out of memory. */
static char *dir_of(const char *out)
{
	const char *slash = strrchr(out, '/');

	if (!slash)
		return strdup(".");
	return strndup(out, slash == out ? 1 : (size_t)(slash - out));
}

/*
 * OUT_PREFIX names files in a directory that exists: say so before any
 * work (a temporary file's name in a failed open() says nothing to a user).
 */
static int check_out_dir(const char *out)
{
	char *dir;
	struct stat st;
	int rc = 0;

	if (!*out || out[strlen(out) - 1] == '/') {
		cli_error(
			"'%s' is a directory name: OUT_PREFIX is the prefix of the files to write, as '%smodel.ckpt'",
			out, out);
		return -1;
	}
	dir = dir_of(out);
	if (!dir) {
		cli_error("out of memory");
		return -1;
	}
	if (stat(dir, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
		cli_error(
			"cannot write '%s': directory '%s' does not exist (create it: mkdir -p '%s')",
			out, dir, dir);
		rc = -1;
	} else if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		cli_error("cannot write '%s': '%s' is not a directory", out, dir);
		rc = -1;
	}
	free(dir);
	return rc;
}

/*
 * Append s to the text b (n bytes used, cap) as protobuf's text format
 * writes a string: C escapes, other bytes outside printable ASCII in octal.
 */
static void put_quoted(char *b, size_t *n, size_t cap, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e = c == '\n'   ? "\\n"
				: c == '\r' ? "\\r"
				: c == '\t' ? "\\t"
				: c == '"'  ? "\\\""
				: c == '\'' ? "\\'"
				: c == '\\' ? "\\\\"
					    : NULL;

		if (e)
			*n += (size_t)snprintf(b + *n, cap - *n, "%s", e);
		else if (c < 0x20 || c >= 0x7f)
			*n += (size_t)snprintf(b + *n, cap - *n, "\\%03o", c);
		else
			*n += (size_t)snprintf(b + *n, cap - *n, "%c", c);
	}
}

/*
 * OUT_PREFIX's directory gets the `checkpoint` state file TensorFlow's
 * save writes (checkpoint-format.md §8), naming the new checkpoint alone,
 * relative to it, as tf.train.update_checkpoint_state(DIR, OUT_PREFIX)
 * does: tf.train.latest_checkpoint(DIR) then finds it. A state file a
 * source is read through is left alone (rewriting it would change what
 * that source names).
 */
static int write_state(const struct view *v, const struct mapping *m, const char *out)
{
	const char *slash = strrchr(out, '/'), *base = slash ? slash + 1 : out;
	char *dir = dir_of(out), *path, *text;
	size_t need = 4 * strlen(base) + 128, n = 0;
	struct used_files u = { NULL, 0, 0 };
	int rc = dir ? collect_used(v, m, &u) : -ENOMEM;
	struct stat st;

	path = dir ? malloc(strlen(dir) + sizeof("/checkpoint")) : NULL;
	text = malloc(2 * need);
	if (rc == 0 && (!path || !text))
		rc = -ENOMEM;
	if (rc == 0) {
		sprintf(path, "%s/checkpoint", dir);
		for (size_t i = 0; rc == 0 && i < u.n && lstat(path, &st) == 0; i++) {
			if (u.f[i].dev != st.st_dev || u.f[i].ino != st.st_ino)
				continue;
			cli_error(
				"warning: '%s' left as it is: source '%s' is read through it (so tf.train.latest_checkpoint does not name '%s')",
				path, m->sources[u.f[i].source].name, out);
			rc = 1;
		}
	}
	if (rc == 0) {
		for (int field = 0; field < 2; field++) {
			n += (size_t)snprintf(text + n, 2 * need - n, "%s: \"",
					      field ? "all_model_checkpoint_paths"
						    : "model_checkpoint_path");
			put_quoted(text, &n, 2 * need, base);
			n += (size_t)snprintf(text + n, 2 * need - n, "\"\n");
		}
		rc = place(path, NULL, text, n);
	}
	if (rc == -ENOMEM)
		cli_error("out of memory");
	for (size_t i = 0; i < u.n; i++)
		free(u.f[i].path);
	free(u.f);
	free(dir);
	free(path);
	free(text);
	return rc < 0 ? rc : 0;
}

static int exists_unless_forced(const char *out, const char *suffix, int force)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", out, suffix);
	if (force || access(path, F_OK) != 0)
		return 0;
	cli_error("'%s' exists: not overwriting a checkpoint (use --force)", path);
	return -1;
}

/* What `materialize` is asked for. */
struct materialize_args {
	const char *mapping, *out; /* borrowed from argv */
	int link, force, strict;
	int st; /* --format safetensors */
};

/* --format's value f into a->st; 0, or the exit status of a usage error. */
static int format_arg(const struct help_command *help, const char *f, struct materialize_args *a)
{
	enum mapping_format format;

	if (mapping_format_parse(f, &format) || format == MAPPING_FORMAT_BOTH)
		return help_usage_error(
			help, NULL, "invalid format '%s': expected 'tensorflow' or 'safetensors'",
			f);
	a->st = format == MAPPING_FORMAT_SAFETENSORS;
	return 0;
}

/* argv into *a; 0, or the exit status of a usage error (printed). */
static int parse_args(int argc, char **argv, const struct help_command *help,
		      struct materialize_args *a)
{
	int rc = 0;

	for (int i = 1; rc == 0 && i < argc; i++) {
		if (!strcmp(argv[i], "--link"))
			a->link = 1;
		else if (!strcmp(argv[i], "--force"))
			a->force = 1;
		else if (!strcmp(argv[i], "--strict"))
			a->strict = 1;
		else if (!strncmp(argv[i], "--format", 8) &&
			 (argv[i][8] == '=' || (!argv[i][8] && i + 1 < argc)))
			rc = format_arg(help, argv[i][8] ? argv[i] + 9 : argv[++i], a);
		else if (argv[i][0] == '-' && argv[i][1])
			rc = help_usage_error(help, NULL, "unknown option '%s'", argv[i]);
		else if (!a->mapping)
			a->mapping = argv[i];
		else if (!a->out)
			a->out = argv[i];
		else
			rc = help_usage_error(help, NULL, "unexpected argument '%s'", argv[i]);
	}
	if (rc == 0 && (!a->mapping || !a->out))
		rc = help_usage_error(help, NULL, "missing %s",
				      a->mapping ? "OUT_PREFIX" : "MAPPING");
	if (rc == 0 && a->link && a->st)
		rc = help_usage_error(
			help, NULL,
			"--link makes a TensorFlow checkpoint: not with --format safetensors");
	return rc;
}

/* The files cli_write_files() writes, into OUT_PREFIX's directory. */
static int write_files(const struct view *v, const char *out, int st)
{
	char *dir = dir_of(out);
	int rc = dir ? cli_write_files(v, dir, st) : -ENOMEM;

	if (!dir)
		cli_error("out of memory");
	free(dir);
	return rc;
}

/* Write the merge v (of m) as a asks; 0, or non-zero with the error printed. */
static int write_output(const struct materialize_args *a, const struct mapping *m,
			const struct view *v)
{
	/* a source first: --force does not make overwriting one right */
	int rc = refuse_sources(v, m, a->out, a->link);

	if (rc == 0)
		rc = exists_unless_forced(a->out, a->st ? ".safetensors" : ".index", a->force);
	if (rc == 0 && !a->st)
		rc = a->link ? write_links(v, a->out) : write_copy(v, a->out);
	if (rc == 0 && !a->st)
		rc = write_state(v, m, a->out);
	/* the view was named OUT's base name: its .safetensors files are OUT's */
	if (rc == 0)
		rc = write_files(v, a->out, a->st);
	return rc;
}

int cli_materialize(int argc, char **argv)
{
	struct view_options opt = { .layout = -1, .format = -1 };
	struct materialize_args a = { NULL, NULL, 0, 0, 0, 0 };
	struct mapping *m;
	struct view *v;
	int rc = parse_args(argc, argv, help_find("materialize"), &a);

	if (rc)
		return rc;
	opt.strict = a.strict;
	if (a.link)
		opt.layout = MAPPING_LAYOUT_SHARDS;
	opt.format = a.st ? MAPPING_FORMAT_SAFETENSORS : MAPPING_FORMAT_TENSORFLOW;
	/* a safetensors output is named by OUT's base name: OUT.safetensors, or
	 * OUT-00001-of-0000N.safetensors and OUT.safetensors.index.json */
	if (a.st)
		opt.prefix = strrchr(a.out, '/') ? strrchr(a.out, '/') + 1 : a.out;
	if (check_out_dir(a.out) || cli_open_view(a.mapping, &opt, &m, &v))
		return CLI_BAD_INPUT;
	rc = write_output(&a, m, v);
	view_free(v);
	mapping_free(m);
	return rc ? CLI_BAD_INPUT : CLI_OK;
}
