/*
 * ops.h - the FUSE low-level operations that serve a view (view/view.h).
 *
 * The tree is flat and immutable: the root directory (inode 1) holds the
 * view's files, file i of the view being inode i + 2. Handlers decode a
 * request, ask the view, and send exactly one reply; the mount glue
 * (session.c) owns the session. No libfuse header is needed to use this one.
 */
#ifndef CKPTFS_FS_OPS_H
#define CKPTFS_FS_OPS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "fs/fs.h"

struct view;
struct fuse_lowlevel_ops;

/* Pieces one read may be spliced from before it is copied instead. */
#define CKPTFS_MAX_PIECES 64

/* -o passthrough=: may the kernel read 1:1 data files from their shards?
 * (values in the order of the option's words, options.c) */
enum ckptfs_passthrough {
	CKPTFS_PT_AUTO, /* where the kernel, libfuse and privileges allow */
	CKPTFS_PT_OFF,  /* never: the daemon serves every read */
};

/*
 * -o cache=: how the data files the daemon serves (not passed through)
 * reach readers; see cache.h. Values in the order of the option's words
 * (options.c).
 */
enum ckptfs_cache {
	CKPTFS_CACHE_AUTO,   /* direct I/O where mmap keeps working, else page */
	CKPTFS_CACHE_PAGE,   /* the FUSE page cache: a second copy of each byte */
	CKPTFS_CACHE_DIRECT, /* direct I/O (page cache if mmap would break) */
};

/* -o io_uring=: may requests come through io_uring queues (uring.h)?
 * (values in the order of the option's words, options.c) */
enum ckptfs_uring {
	CKPTFS_URING_AUTO, /* where libfuse and the kernel offer them */
	CKPTFS_URING_OFF,  /* never: /dev/fuse */
	/*
	 * Not given: off. A queue's reply is a copy where /dev/fuse splices, and
	 * sequential reads lost more than TF restores gained (docs/mounting.md).
	 */
	CKPTFS_URING_DEFAULT,
};

/* The daemon's state, reached from a request through ckptfs_data(). */
struct ckptfs {
	const struct view *view; /* borrowed; must outlive the session */
	uid_t uid;               /* owner of every file: the mounting user */
	gid_t gid;
	struct timespec time;    /* atime, mtime and ctime: the mount time */
	unsigned max_read;       /* what init() tells the kernel */
	unsigned max_readahead;  /* bytes, for init(); 0 keeps the kernel's */
	double timeout;          /* entry and attribute cache, seconds */
	pthread_key_t buf_key;   /* per-thread copy buffer (view_read path) */
	atomic_bool *logged;     /* owned; per file: a read error was logged */
	int passthrough;         /* enum ckptfs_passthrough, set before mounting */
	atomic_bool pt_on;       /* the kernel agreed to passthrough (init) */
	pthread_mutex_t pt_lock; /* guards backing[] */
	/* owned; per file: 0 not yet opened, > 0 its backing id, -1 daemon path */
	int32_t *backing;
	int cache;              /* enum ckptfs_cache, set before mounting */
	atomic_bool direct_on;  /* data files use direct I/O (init) */
	int uring;              /* enum ckptfs_uring, set before mounting */
	atomic_bool uring_seen; /* a request came through io_uring (logged) */
};

/*
 * Fill fs for serving v. max_read is clamped to [page size,
 * max_read_limit] (CKPTFS_MAX_READ at most, cache_max_read_limit());
 * read the result back from fs->max_read before building the session
 * options. Returns 0 or a negative errno (-ENOMEM). On success release
 * with ckptfs_release() after the session is destroyed.
 */
int ckptfs_init(struct ckptfs *fs, const struct view *v, unsigned max_read,
		unsigned max_read_limit);
void ckptfs_release(struct ckptfs *fs);

/* The operations table; its userdata must be a struct ckptfs. */
extern const struct fuse_lowlevel_ops ckptfs_ll_ops;

#endif /* CKPTFS_FS_OPS_H */
