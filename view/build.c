/*
 * build.c - view_build() and the view's lifetime: check the options, let
 * plan.c decide what is merged and layout.c where its bytes are, and free
 * or compact the result.
 */
#include "view/view_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	char shown[VIEW_SHOWN_MAX];

	v->layout = opt && opt->layout >= 0 ? (enum mapping_layout)opt->layout
					     : v->m->layout;
	if (!*prefix || strchr(prefix, '/') || !strcmp(prefix, ".") ||
	    !strcmp(prefix, "..") || !strcmp(prefix, "checkpoint") ||
	    has_control(prefix)) {
		snprintf(err, errlen, "invalid prefix '%s' (a file name, without '/' or control characters)",
			 view_shown(shown, prefix, strlen(prefix)));
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
