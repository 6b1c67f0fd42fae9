/*
 * cache.c - the page cache or direct I/O for the data files the daemon
 * serves (see cache.h).
 *
 * The choice is made once per mount, in init(), and holds for every file:
 * the kernel wants all opens of an inode to agree on it, and the content
 * never changes, so there is nothing to gain from deciding per open.
 */
/* F_SETPIPE_SZ and pipe2 are Linux's, outside the POSIX set we build with */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 34

#include "fs/cache.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "fs/ops.h"
#include "view/view.h"

/* Sharing mmap with direct I/O: Linux >= 6.6, and libfuse >= 3.16 to ask. */
#ifdef FUSE_CAP_DIRECT_IO_ALLOW_MMAP
#define HAVE_DIRECT_MMAP 1
#else
#define HAVE_DIRECT_MMAP 0
#endif

unsigned cache_max_read_limit(void)
{
	/*
	 * libfuse sizes a reply's pipe as the reply plus one page per iovec,
	 * per piece and one more; the kernel rounds up to a power of two.
	 */
	long page = sysconf(_SC_PAGESIZE);
	long need = (long)CKPTFS_MAX_READ + page * (CKPTFS_MAX_PIECES + 3);
	int p[2], ok;

	if (pipe2(p, O_CLOEXEC) != 0)
		return CKPTFS_MAX_READ_UNPRIVILEGED;
	ok = fcntl(p[0], F_SETPIPE_SZ, need) >= need;
	close(p[0]);
	close(p[1]);
	return ok ? CKPTFS_MAX_READ : CKPTFS_MAX_READ_UNPRIVILEGED;
}

/* Whether cache mode may put data files on direct I/O at all. */
static int may_go_direct(int cache) { return HAVE_DIRECT_MMAP && cache != CKPTFS_CACHE_PAGE; }

unsigned cache_default_max_read(int cache, unsigned limit)
{
	return may_go_direct(cache) ? limit : CKPTFS_MAX_READ_UNPRIVILEGED;
}

static const char *mode_name(int cache)
{
	if (cache == CKPTFS_CACHE_DIRECT)
		return "direct";
	return cache == CKPTFS_CACHE_PAGE ? "page" : "auto";
}

#if HAVE_DIRECT_MMAP

void cache_negotiate(struct ckptfs *fs, struct fuse_conn_info *conn)
{
	if (!may_go_direct(fs->cache)) {
		fuse_log(
			FUSE_LOG_INFO,
			"ckptfs: data files the daemon serves go through the FUSE page cache (-o cache=page)\n");
		return;
	}
	if (!(conn->capable & FUSE_CAP_DIRECT_IO_ALLOW_MMAP)) {
		fuse_log(
			FUSE_LOG_NOTICE,
			"ckptfs: data files the daemon serves go through the FUSE page cache (-o cache=%s): direct I/O would break mmap, and the kernel does not offer FUSE_DIRECT_IO_ALLOW_MMAP (Linux >= 6.6)\n",
			mode_name(fs->cache));
		return;
	}
	conn->want |= FUSE_CAP_DIRECT_IO_ALLOW_MMAP;
	atomic_store(&fs->direct_on, true);
	fuse_log(
		FUSE_LOG_INFO,
		"ckptfs: data files the daemon serves use direct I/O (-o cache=%s): no second copy in the page cache, %u-byte requests, mmap allowed\n",
		mode_name(fs->cache), fs->max_read);
}

#else /* libfuse < 3.16 cannot ask for mmap of direct-I/O files */

void cache_negotiate(struct ckptfs *fs, struct fuse_conn_info *conn)
{
	(void)conn;
	if (fs->cache == CKPTFS_CACHE_PAGE)
		fuse_log(
			FUSE_LOG_INFO,
			"ckptfs: data files the daemon serves go through the FUSE page cache (-o cache=page)\n");
	else
		fuse_log(
			FUSE_LOG_NOTICE,
			"ckptfs: data files the daemon serves go through the FUSE page cache (-o cache=%s): direct I/O would break mmap, and libfuse %d.%d cannot ask for FUSE_DIRECT_IO_ALLOW_MMAP (it needs 3.16)\n",
			mode_name(fs->cache), FUSE_MAJOR_VERSION, FUSE_MINOR_VERSION);
}

#endif

void cache_open(struct ckptfs *fs, size_t idx, struct fuse_file_info *fi)
{
	if (atomic_load(&fs->direct_on) && view_file_is_extents(view_file_at(fs->view, idx)))
		fi->direct_io = 1;
}
