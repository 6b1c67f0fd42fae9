/*
 * uring.h - FUSE over io_uring: the kernel hands requests to the daemon
 * through io_uring queues (one per CPU, each served by a thread of
 * libfuse's on that CPU) instead of read(2) and write(2) on /dev/fuse.
 *
 * Needs libfuse >= 3.18 built with liburing (scripts/build-libfuse
 * --series 3.18) and a kernel that offers it: Linux >= 6.14 with the fuse
 * module's parameter enable_uring on (off by default;
 * scripts/install-deps turns it on). libfuse sets the queues up after
 * INIT; when it cannot, requests keep coming through /dev/fuse. The log
 * says which, once. Only with -o io_uring=auto: off by default
 * (CKPTFS_URING_DEFAULT, ops.h). Private to fs/.
 */
#ifndef CKPTFS_FS_URING_H
#define CKPTFS_FS_URING_H

struct ckptfs;
struct fuse_args;
struct fuse_conn_info;
struct fuse_req;

/*
 * Before fuse_session_new(): add the session option that asks libfuse for
 * io_uring queues if fs->uring asks (-o io_uring=auto) and this libfuse has them. 0 or
 * -ENOMEM; args is the caller's.
 */
int uring_session_args(const struct ckptfs *fs, struct fuse_args *args);

/*
 * From init(): keep or drop io_uring as fs->uring and conn say; logs one
 * line when it is off or unavailable, and why.
 */
void uring_negotiate(struct ckptfs *fs, struct fuse_conn_info *conn);

/* From a request: logs, once per mount, that requests come through io_uring. */
void uring_note_request(struct fuse_req *req, struct ckptfs *fs);

#endif /* CKPTFS_FS_URING_H */
