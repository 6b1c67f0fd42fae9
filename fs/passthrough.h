/*
 * passthrough.h - FUSE passthrough for data files that are one source
 * shard whole (view_data_whole_fd): the daemon registers the shard's
 * pinned fd with the kernel once, answers every open of that file with
 * its backing id, and the kernel then serves read, splice and mmap from
 * the shard itself, with no second copy in the page cache and no round
 * trip through the daemon.
 *
 * Needs libfuse >= 3.17 at build time, a kernel that offers it
 * (CONFIG_FUSE_PASSTHROUGH, Linux >= 6.9) and CAP_SYS_ADMIN; a file the
 * kernel cannot pass through is served by the daemon (ops.c), and the log
 * says which path each file takes. Private to fs/.
 */
#ifndef CKPTFS_FS_PASSTHROUGH_H
#define CKPTFS_FS_PASSTHROUGH_H

#include <stddef.h>

struct ckptfs;
struct fuse_conn_info;
struct fuse_file_info;
struct fuse_req;

/*
 * From init(): ask the kernel for passthrough if fs->passthrough allows
 * and conn offers it; logs one line saying whether it is on, and why not.
 */
void pt_negotiate(struct ckptfs *fs, struct fuse_conn_info *conn);

/*
 * From open() of data file idx: if the file can be passed through, set
 * fi's backing id (registering the shard on the first open of the file)
 * and return 1; else 0, and the daemon serves it. Logs the path a file
 * takes once per file.
 */
int pt_open(struct fuse_req *req, struct ckptfs *fs, size_t idx, struct fuse_file_info *fi);

#endif /* CKPTFS_FS_PASSTHROUGH_H */
