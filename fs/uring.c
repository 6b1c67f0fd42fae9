/*
 * uring.c - FUSE over io_uring (see uring.h).
 *
 * libfuse 3.18 asks the kernel for io_uring when its session option
 * "io_uring" is given and the kernel offers it in INIT; it then starts one
 * queue and thread per CPU after init() has run, and falls back to
 * /dev/fuse with a line of its own ("failed to start io-uring") if that
 * fails. Whether it worked shows only in the requests, so the first one
 * that comes through a queue is what the "in use" line reports.
 */
#define FUSE_USE_VERSION 34

#include "fs/uring.h"

#include <errno.h>
#include <stdatomic.h>

#include <fuse_lowlevel.h>
#include <fuse_opt.h>

#include "fs/ops.h"

/* the session option, FUSE_CAP_OVER_IO_URING and fuse_req_is_uring(): 3.18 */
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 18)
#define HAVE_URING 1
#else
#define HAVE_URING 0
#endif

/* Off by -o io_uring=off or by default, said the same way whatever libfuse this is. */
static int uring_turned_off(const struct ckptfs *fs)
{
	if (fs->uring == CKPTFS_URING_AUTO)
		return 0;
	fuse_log(FUSE_LOG_INFO, "ckptfs: io_uring off (%s): requests come through /dev/fuse\n",
		 fs->uring == CKPTFS_URING_OFF ? "-o io_uring=off"
					       : "the default; -o io_uring=auto asks for it");
	return 1;
}

#if HAVE_URING

int uring_session_args(const struct ckptfs *fs, struct fuse_args *args)
{
	if (fs->uring != CKPTFS_URING_AUTO)
		return 0;
	return fuse_opt_add_arg(args, "-oio_uring") ? -ENOMEM : 0;
}

void uring_negotiate(struct ckptfs *fs, struct fuse_conn_info *conn)
{
	if (uring_turned_off(fs)) {
		/* libfuse also reads FUSE_URING_ENABLE from the environment: off is off */
		conn->want &= ~FUSE_CAP_OVER_IO_URING;
		return;
	}
	if (!(conn->capable & FUSE_CAP_OVER_IO_URING)) {
		fuse_log(
			FUSE_LOG_NOTICE,
			"ckptfs: io_uring unavailable (the kernel does not offer it: Linux >= 6.14 with CONFIG_FUSE_IO_URING, and the fuse module's parameter /sys/module/fuse/parameters/enable_uring set to Y by root): requests come through /dev/fuse\n");
		return;
	}
	/* libfuse wants it by default when offered; said here in case that changes */
	conn->want |= FUSE_CAP_OVER_IO_URING;
}

void uring_note_request(struct fuse_req *req, struct ckptfs *fs)
{
	if (!fuse_req_is_uring(req) || atomic_load_explicit(&fs->uring_seen, memory_order_relaxed))
		return;
	if (!atomic_exchange(&fs->uring_seen, true))
		fuse_log(FUSE_LOG_INFO,
			 "ckptfs: io_uring in use: requests come through io_uring queues\n");
}

#else /* libfuse < 3.18: /dev/fuse only */

int uring_session_args(const struct ckptfs *fs, struct fuse_args *args)
{
	(void)fs, (void)args;
	return 0;
}

void uring_negotiate(struct ckptfs *fs, struct fuse_conn_info *conn)
{
	(void)conn;
	if (!uring_turned_off(fs))
		fuse_log(
			FUSE_LOG_NOTICE,
			"ckptfs: io_uring unavailable (built with libfuse %d.%d; it needs 3.18): requests come through /dev/fuse\n",
			FUSE_MAJOR_VERSION, FUSE_MINOR_VERSION);
}

void uring_note_request(struct fuse_req *req, struct ckptfs *fs) { (void)req, (void)fs; }

#endif
