/*
 * options.h - the mount command line, parsed (options.c): libfuse's
 * syntax (-o OPTIONS, -f, -d, -s and the positional arguments) with
 * ckptfs's own -o words checked, and no FUSE session needed, so the unit
 * tests (tests/unit/test_fs_options.c) parse command lines as mount(8)
 * passes them. session.c mounts what it describes. Private to fs/.
 */
#ifndef CKPTFS_FS_OPTIONS_H
#define CKPTFS_FS_OPTIONS_H

/* the libfuse API every file of fs/ is written to */
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 34
#endif

#include <stddef.h>

#include <fuse_lowlevel.h>
#include <fuse_opt.h>

#include "fs/fs.h"

/* Default -o readahead (KiB): two max_read requests' worth. */
#define CKPTFS_READAHEAD_KB 1024

/* What ckptfs reads from the command line itself, beside libfuse. */
struct mount_opts {
	char *mapping;         /* owned; the first positional argument */
	char *mountpoint;      /* owned; the second, then made absolute */
	char *prefix;          /* owned; -o prefix=, NULL: the mapping's */
	char *layout;          /* owned; -o layout=, NULL: the mapping's */
	char *format;          /* owned; -o format=, NULL: the mapping's */
	char *max_read_arg;    /* owned; -o max_read=, as given */
	char *readahead_arg;   /* owned; -o readahead=, as given */
	char *passthrough_arg; /* owned; -o passthrough=, as given */
	char *cache_arg;       /* owned; -o cache=, as given */
	char *uring_arg;       /* owned; -o io_uring=, as given */
	char *cache_dir;       /* owned; -o cache_dir= (remote sources) */
	char *cache_size;      /* owned; -o cache_size=, as given */
	char *remote_timeout;  /* owned; -o remote_timeout=, as given */
	/* parsed from the two above (check_numbers) */
	unsigned max_read;  /* when max_read_arg is set; clamped when mounting */
	unsigned readahead; /* KiB; 0 keeps the kernel's */
	int passthrough;    /* enum ckptfs_passthrough (check_passthrough) */
	int cache;          /* enum ckptfs_cache (check_cache) */
	int uring;          /* enum ckptfs_uring (check_uring) */
	int nonempty;       /* -o nonempty: mount over files (libfuse 3 has none) */
	int strict;         /* -o strict: a tensor safetensors cannot hold is an error */
	int allow_other;    /* these three are seen, and left for libfuse */
	int fsname;
	int subtype;
};

struct fs_mount {
	struct fuse_args args;        /* what libfuse parses and mounts with */
	struct fuse_cmdline_opts cmd; /* its reading of them */
	struct mount_opts o;
	struct fs_mount_request req; /* views of the fields above */
	fs_notice_fn *notice;
	void *notice_ctx; /* borrowed */
	char *err;        /* the caller's buffer, while parsing */
	size_t errlen;
};

/*
 * Send one notice line (formatted like printf) to the caller's callback,
 * if it gave one: an option that is ignored, a value that is clamped.
 */
__attribute__((format(printf, 2, 3))) void fs_mount_notice(const struct fs_mount *fm,
							   const char *fmt, ...);

#endif /* CKPTFS_FS_OPTIONS_H */
