/*
 * build.c - view_build() and the view's lifetime: check the options, let
 * plan.c decide what is merged and layout.c where its bytes are, check
 * that the files can be named, and free or compact the result. Every
 * check a mount makes of the merge is here, so `ckptfs check`, `ls` and
 * `materialize` report exactly what a mount would.
 */
#include "view/st_impl.h"

#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * Where the prefix's errors point: its `prefix` line (the file when it
 * is the default), or nowhere when view_options (-o prefix=) gave it,
 * since the mapping is not at fault.
 */
static const struct mapping_pos *prefix_pos(const struct view *v, const struct view_options *opt)
{
	return opt && opt->prefix ? NULL : &v->m->prefix_pos;
}

/*
 * The prefix names files in the mount, and TensorFlow must find them:
 * tf.train.latest_checkpoint globs PREFIX.index (so '*', '?', '[' and a
 * backslash change what it looks for) and Python decodes it as UTF-8.
 */
static int check_prefix(const char *prefix, const struct mapping_pos *pos, char *err, size_t errlen)
{
	char shown[VIEW_SHOWN_MAX];
	const char *bad;

	view_shown(shown, prefix, strlen(prefix));
	if (!*prefix || strchr(prefix, '/') || !strcmp(prefix, ".") || !strcmp(prefix, "..") ||
	    !strcmp(prefix, "checkpoint") || has_control(prefix))
		return view_errf(
			err, errlen, -EINVAL, pos,
			"invalid prefix '%s' (a file name, without '/' or control characters)",
			shown);
	if (!util_is_utf8(prefix, strlen(prefix)))
		return view_errf(err, errlen, -EINVAL, pos,
				 "prefix '%s' is not UTF-8 (TensorFlow cannot open it)", shown);
	bad = strpbrk(prefix, "*?[\\");
	if (bad) {
		/* shown as in the name: a backslash doubled */
		const char c[3] = { *bad, *bad == '\\' ? '\\' : '\0', '\0' };

		return view_errf(
			err, errlen, -EINVAL, pos,
			"prefix '%s' contains '%s', which TensorFlow takes for a pattern (tf.train.latest_checkpoint would not find it)",
			shown, c);
	}
	return 0;
}

/*
 * Every file must be reachable by name: lookup, readdir and every file
 * system on the way stop at NAME_MAX bytes. Asked of the laid-out files,
 * whose names the layout decides (PREFIX.data-SSSSS-of-NNNNN).
 */
static int check_names(const struct view *v, const struct view_options *opt, char *err,
		       size_t errlen)
{
	for (size_t i = 0; i < v->n_files; i++) {
		const char *name = v->files[i].name;
		char shown[64];

		if (strlen(name) <= NAME_MAX)
			continue;
		return view_errf(err, errlen, -EINVAL, prefix_pos(v, opt),
				 "file name '%s' is longer than %d bytes: use a shorter prefix",
				 util_escape(shown, sizeof(shown), name, strlen(name),
					     UTIL_ESCAPE_BACKSLASH),
				 NAME_MAX);
	}
	return 0;
}

static int check_options(struct view *v, const struct view_options *opt, char *err, size_t errlen)
{
	const char *prefix = opt && opt->prefix ? opt->prefix : v->m->prefix;
	int rc;

	v->layout = opt && opt->layout >= 0 ? (enum mapping_layout)opt->layout : v->m->layout;
	v->open_flags = opt && opt->public_sources ? BUNDLE_OPEN_PUBLIC : 0;
	rc = check_prefix(prefix, prefix_pos(v, opt), err, errlen);
	if (rc)
		return rc;
	if (v->layout != MAPPING_LAYOUT_SINGLE && v->layout != MAPPING_LAYOUT_SHARDS)
		return view_errf(err, errlen, -EINVAL, NULL, "invalid layout %d", (int)v->layout);
	if (opt && opt->format > (int)MAPPING_FORMAT_BOTH)
		return view_errf(err, errlen, -EINVAL, NULL, "invalid format %d", opt->format);
	v->prefix = strdup(prefix);
	v->readers = calloc(v->m->n_sources + 1, sizeof(*v->readers));
	v->source_tensors = calloc(v->m->n_sources + 1, sizeof(size_t));
	if (!v->prefix || !v->readers || !v->source_tensors)
		return view_errf(err, errlen, -ENOMEM, NULL, "out of memory");
	return 0;
}

/*
 * A merge of safetensors sources only, whose mapping names no prefix, is
 * named as a Hugging Face model is: model.safetensors (and model.index of
 * a TensorFlow output), not model.ckpt.
 */
static int hf_prefix(struct view *v, char *err, size_t errlen)
{
	char *p;

	if (v->m->prefix_pos.line || !v->m->n_sources)
		return 0;
	for (size_t i = 0; i < v->m->n_sources; i++)
		if (bundle_has_crcs(v->readers[i])) /* a checkpoint (adopted readers have none) */
			return 0;
	p = strdup(VIEW_HF_PREFIX);
	if (!p)
		return view_errf(err, errlen, -ENOMEM, NULL, "out of memory");
	free(v->prefix);
	v->prefix = p;
	return 0;
}

int view_build(const struct mapping *m, const struct view_options *opt, struct view **out,
	       char *err, size_t errlen)
{
	struct view *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return view_errf(err, errlen, -ENOMEM, NULL, "out of memory");
	v->m = m;
	v->graph_fd = -1;
	v->remote = opt ? opt->remote : NULL;
	v->keys.chunk = VIEW_KEYS_CHUNK;
	v->format = opt && opt->format >= 0 ? (enum mapping_format)opt->format : m->format;
	/* PREFIX.safetensors is laid out after the index, from the entries */
	v->release_sources =
		opt && opt->compact &&
		(opt->format >= 0 ? opt->format : (int)m->format) == (int)MAPPING_FORMAT_TENSORFLOW;
	rc = check_options(v, opt, err, errlen);
	if (rc == 0)
		rc = plan_resolve(v, err, errlen);
	if (rc == 0 && !(opt && opt->prefix))
		rc = hf_prefix(v, err, errlen);
	if (rc == 0)
		rc = layout_build(v, err, errlen);
	if (rc == 0)
		rc = st_build(
			v, opt && opt->format >= 0 ? (enum mapping_format)opt->format : m->format,
			opt && opt->strict, err, errlen);
	if (rc == 0)
		rc = files_add(v, err, errlen);
	if (rc == 0)
		rc = check_names(v, opt, err, errlen);
	if (rc) {
		view_free(v);
		return rc;
	}
	if (opt && opt->compact)
		view_compact(v);
	v->remote = NULL;
	*out = v;
	return 0;
}

static void free_targets(struct view *v)
{
	free(v->targets);
	util_arena_release(&v->keys);
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
	objmerge_free(v->om, v->m->n_sources);
	v->om = NULL;
	close_readers(v);
}

void view_free(struct view *v)
{
	if (!v)
		return;
	view_compact(v);
	for (size_t i = 0; i < v->n_fds; i++) {
		close(v->fds[i]);
		store_obj_close(v->objs[i]);
	}
	free(v->objs);
	store_free(v->store); /* after its objects */
	if (v->graph_fd >= 0)
		close(v->graph_fd);
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
	for (size_t i = 0; i < v->n_blobs; i++)
		free(v->blobs[i]);
	free(v->blobs);
	st_crc_free(v);
	free(v->source_tensors);
	free(v->prefix);
	free(v);
}
