/*
 * st_impl.h - the safetensors view's parts shared inside view/:
 * st_slices.c (partitioned variables as one tensor) and safetensors.c (the
 * file). The format itself is safetensors/. Private to view/.
 */
#ifndef CKPTFS_VIEW_ST_IMPL_H
#define CKPTFS_VIEW_ST_IMPL_H

#include "view/view_impl.h"

/* len bytes at off of target t's bytes in its source shard. */
struct st_run {
	const struct view_target *t;
	uint64_t off, len;
};

struct st_runs {
	struct st_run *run; /* owned */
	size_t n, cap;
};

/*
 * st_slices.c: append to r the runs that make partitioned variable t
 * (bytes long) in row-major order, zero-copy. 0 with *why set (nothing
 * appended) when its pieces do not tile it or are too fragmented to
 * serve; -EBADMSG if a piece is not a target, -ENOMEM.
 */
int st_tile(const struct view *v, const struct view_target *t, int64_t bytes, struct st_runs *r,
	    const char **why);

/*
 * safetensors.c: add PREFIX.safetensors to a laid-out view (after
 * layout_build), and with format SAFETENSORS drop the TensorFlow files.
 * strict: a tensor it cannot hold is an error, not a warning.
 */
int st_build(struct view *v, enum mapping_format format, int strict, char *err, size_t errlen);

#endif
