/*
 * fs.h - serve a view (view/view.h) as a read-only FUSE file system: the
 * mount command line in libfuse's syntax (-o OPTIONS, -f, -d, -s), the
 * checks of the mountpoint, the session and its worker loop.
 *
 * This is the only module that sees libfuse. It never prints: a failure
 * comes back as a negative errno with a message in the caller's (err,
 * errlen) buffer, and something the user should know but that does not
 * stop the mount (an ignored option) goes to the caller's notice
 * callback. The command that drives it is cli/cli_mount.c.
 */
#ifndef CKPTFS_FS_FS_H
#define CKPTFS_FS_FS_H

#include <stddef.h>

struct view;

/*
 * Largest read the kernel is allowed to send (conn->max_read and
 * -o max_read): 1 MiB, the kernel's default limit of a request
 * (fs.fuse.max_pages_limit). A splice reply must fit the per-thread pipe,
 * with room for the header page and one page per piece; for 1 MiB that
 * pipe is larger than /proc/sys/fs/pipe-max-size (1 MiB by default),
 * which only CAP_SYS_RESOURCE (root) may exceed. Without it reads stop at
 * CKPTFS_MAX_READ_UNPRIVILEGED, so replies never silently fall back to
 * copying.
 */
#define CKPTFS_MAX_READ (1024u * 1024)
#define CKPTFS_MAX_READ_UNPRIVILEGED (512u * 1024)

/*
 * Largest -o readahead=, in KiB: 1 GiB. A larger window only pins page
 * cache, and the kernel takes the window in bytes, in 32 bits.
 */
#define CKPTFS_READAHEAD_MAX_KB (1024u * 1024)

/* A parsed mount command line; opaque because it holds libfuse's state. */
struct fs_mount;

/* What the command line asks for, as the caller needs to know it. */
struct fs_mount_request {
	const char *mapping;    /* the first positional argument, or NULL */
	const char *mountpoint; /* the second; absolute after the check */
	const char *prefix;     /* -o prefix=, NULL: the mapping's */
	const char *layout;     /* -o layout=, NULL: the mapping's */
	const char *format;     /* -o format=, NULL: the mapping's */
	int strict;             /* -o strict: see view_options.strict */
	/* remote sources (store_options): as given, NULL when not */
	const char *cache_dir;      /* -o cache_dir= */
	const char *cache_size;     /* -o cache_size= (bytes, K, M, G, T) */
	const char *remote_timeout; /* -o remote_timeout= (seconds) */
	int allow_other;            /* -o allow_other: every user may read the mount */
	int show_help;              /* -h/--help: print help, mount nothing */
	int show_version;           /* -V/--version */
};

/* Receives one line of notice (no "ckptfs: ", no newline). */
typedef void fs_notice_fn(void *ctx, const char *msg);

/*
 * Parse argv (argv[0] is the program) the way mount(8), mount.fuse3 and
 * fstab call us. Returns 0 with *out set (free with fs_mount_free()), or
 * -EINVAL for a bad command line: the message is in err, or empty when
 * libfuse already printed its own. notice(ctx, msg) may be called during
 * this and later calls on the same fs_mount; ctx is borrowed.
 */
int fs_mount_parse(int argc, char **argv, fs_notice_fn *notice, void *ctx, struct fs_mount **out,
		   char *err, size_t errlen);
void fs_mount_free(struct fs_mount *fm);

/* The request inside fm; owned by fm. */
const struct fs_mount_request *fs_mount_request(const struct fs_mount *fm);

/*
 * Check that the mountpoint is an empty directory (any directory with
 * -o nonempty) nothing is mounted on, and make it absolute (the daemon
 * leaves its working directory, and unmounting needs the path). 0 or a
 * negative errno with a message.
 */
int fs_mount_check_mountpoint(struct fs_mount *fm, char *err, size_t errlen);

/*
 * Mount v read-only on the mountpoint, go into the background unless -f,
 * and serve requests until the file system is unmounted or the daemon
 * gets SIGTERM, SIGINT or SIGHUP. v is borrowed and must outlive the
 * call. Returns 0 after a normal end; -EINVAL when libfuse refused the
 * options (before mounting); another negative errno when the mount could
 * not be made or the session failed.
 */
int fs_mount_serve(struct fs_mount *fm, const struct view *v, char *err, size_t errlen);

/*
 * libfuse's own version report for --version (libfuse prints it, and
 * asks fusermount3 for its version too).
 */
void fs_report_libfuse_version(void);

/*
 * One fd per source shard stays open for the life of a mount: raise the
 * soft RLIMIT_NOFILE to the hard one (best effort) before opening them.
 */
void fs_raise_fd_limit(void);

#endif /* CKPTFS_FS_FS_H */
