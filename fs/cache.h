/*
 * cache.h - how the daemon's data files reach readers (-o cache=): through
 * the FUSE page cache, or by direct I/O (FOPEN_DIRECT_IO), where every
 * read(2) goes to the daemon and is spliced from the sources' page cache
 * straight into the reader's buffer, so each byte read is cached once (as
 * the source's) instead of twice. Files the kernel reads itself (FUSE
 * passthrough, passthrough.h) and the files served from memory (the
 * .index, `checkpoint`) keep their own paths.
 *
 * Direct I/O must not break mmap: a shared mapping of a direct-I/O file
 * needs FUSE_DIRECT_IO_ALLOW_MMAP (Linux >= 6.6, and a libfuse that knows
 * the capability, >= 3.16). Without it the data files stay on the page
 * cache path, and the log says why. Private to fs/.
 */
#ifndef CKPTFS_FS_CACHE_H
#define CKPTFS_FS_CACHE_H

#include <stddef.h>

struct ckptfs;
struct fuse_conn_info;
struct fuse_file_info;

/*
 * The largest max_read this process can serve by splice: CKPTFS_MAX_READ
 * when a pipe can be made large enough for such a reply (more than
 * /proc/sys/fs/pipe-max-size needs CAP_SYS_RESOURCE: root), else
 * CKPTFS_MAX_READ_UNPRIVILEGED. A larger reply than the pipe holds would
 * make libfuse copy every reply from then on.
 */
unsigned cache_max_read_limit(void);

/*
 * The max_read a mount gets when -o max_read= is not given: the limit for
 * a cache mode (enum ckptfs_cache) that may serve by direct I/O, whose
 * request size is max_read; the page cache path keeps
 * CKPTFS_MAX_READ_UNPRIVILEGED, whose readahead window it was tuned with.
 */
unsigned cache_default_max_read(int cache, unsigned limit);

/*
 * From init(): decide fs->direct_on from fs->cache and what conn offers
 * (asking for FUSE_CAP_DIRECT_IO_ALLOW_MMAP); logs one line saying which
 * path the daemon's data files take, and why.
 */
void cache_negotiate(struct ckptfs *fs, struct fuse_conn_info *conn);

/*
 * From open() of data file idx when the daemon serves it (not passed
 * through): mark fi direct I/O if the mount is on that path.
 */
void cache_open(struct ckptfs *fs, size_t idx, struct fuse_file_info *fi);

#endif /* CKPTFS_FS_CACHE_H */
