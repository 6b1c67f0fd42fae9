/*
 * passthrough.c - FUSE passthrough for the data files that are one source
 * shard whole (see passthrough.h).
 *
 * One backing id per file, registered on the file's first open and kept
 * for the life of the mount: the file never changes, the daemon holds the
 * shard's fd for as long anyway, and the kernel insists that all opens of
 * an inode take one path (an inode with a passthrough open cannot also be
 * opened through the page cache), so the choice is made once per file and
 * never undone. The backing ids end with the connection.
 */
/* O_DIRECT is outside the POSIX set the project builds with */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 34

#include "fs/passthrough.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <fuse_lowlevel.h>

#include "fs/ops.h"
#include "view/view.h"

/* fi->backing_id, fuse_passthrough_open() and the capability: libfuse 3.17 */
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 17)
#define HAVE_PASSTHROUGH 1
#else
#define HAVE_PASSTHROUGH 0
#endif

/* -o passthrough=off, said the same way whatever libfuse this is. */
static int pt_turned_off(const struct ckptfs *fs)
{
	if (fs->passthrough != CKPTFS_PT_OFF)
		return 0;
	fuse_log(FUSE_LOG_INFO,
		 "ckptfs: passthrough off (-o passthrough=off): the daemon serves every read\n");
	return 1;
}

#if HAVE_PASSTHROUGH

void pt_negotiate(struct ckptfs *fs, struct fuse_conn_info *conn)
{
	if (pt_turned_off(fs))
		return;
	if (!(conn->capable & FUSE_CAP_PASSTHROUGH)) {
		fuse_log(
			FUSE_LOG_NOTICE,
			"ckptfs: passthrough unavailable (the kernel does not offer it; Linux >= 6.9 with CONFIG_FUSE_PASSTHROUGH): the daemon serves every read\n");
		return;
	}
	conn->want |= FUSE_CAP_PASSTHROUGH;
	/*
	 * Let the shards live on a stacked file system (overlayfs: container
	 * images); the price is that this mount cannot be stacked under one.
	 */
	conn->max_backing_stack_depth = FUSE_BACKING_STACKED_OVER;
	atomic_store(&fs->pt_on, true);
}

/* Register file idx's shard; its backing id, or -1 if it is refused. */
static int register_file(struct fuse_req *req, const struct ckptfs *fs, size_t idx, int fd)
{
	const char *name = view_file_at(fs->view, idx)->name;
	int id;

	errno = 0;
	id = fuse_passthrough_open(req, fd);
	if (id > 0) {
		fuse_log(FUSE_LOG_INFO,
			 "ckptfs: '%s': passthrough (the kernel reads the source shard)\n", name);
		return id;
	}
	/* EPERM: no CAP_SYS_ADMIN; ELOOP: shard too deeply stacked; ... */
	fuse_log(FUSE_LOG_NOTICE, "ckptfs: '%s': served by the daemon: passthrough refused (%s)\n",
		 name, errno ? strerror(errno) : "unknown reason");
	return -1;
}

int pt_open(struct fuse_req *req, struct ckptfs *fs, size_t idx, struct fuse_file_info *fi)
{
	int fd = view_data_whole_fd(fs->view, idx);
	int32_t id;

	if (fd < 0 || !atomic_load(&fs->pt_on))
		return 0;
	pthread_mutex_lock(&fs->pt_lock);
	id = fs->backing[idx];
	if (id == 0)
		id = fs->backing[idx] = register_file(req, fs, idx, fd);
	pthread_mutex_unlock(&fs->pt_lock);
	if (id < 0)
		return 0;
	fi->backing_id = id;
	/*
	 * The kernel fails the open (EIO) on any flag outside
	 * FOPEN_PASSTHROUGH_MASK; keep_cache is one, and has no pages to keep.
	 */
	fi->keep_cache = 0;
	/*
	 * O_DIRECT through passthrough would reach the shard's file system,
	 * which refuses unaligned reads (EINVAL) and reads a shard truncated
	 * in place as a short file; the daemon serves any range and says EIO.
	 * The kernel wants every open of a passed-through inode to carry the
	 * backing id, but FOPEN_DIRECT_IO overrides it for reads (mmap still
	 * maps the shard).
	 */
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
	return 1;
}

#else /* libfuse < 3.17: the daemon serves every read */

void pt_negotiate(struct ckptfs *fs, struct fuse_conn_info *conn)
{
	(void)conn;
	if (!pt_turned_off(fs))
		fuse_log(
			FUSE_LOG_NOTICE,
			"ckptfs: passthrough unavailable (built with libfuse %d.%d; it needs 3.17): the daemon serves every read\n",
			FUSE_MAJOR_VERSION, FUSE_MINOR_VERSION);
}

int pt_open(struct fuse_req *req, struct ckptfs *fs, size_t idx, struct fuse_file_info *fi)
{
	(void)req, (void)fs, (void)idx, (void)fi;
	return 0;
}

#endif
