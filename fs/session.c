/*
 * session.c - the mount command line (libfuse's option syntax), the
 * mountpoint checks and the FUSE session that serves a view (see fs.h):
 * mount, daemonize only once mounted (so the command's exit status tells
 * the truth), run the worker loop, unmount.
 */
/* realpath and vsyslog are outside the POSIX set the project builds with */
#define _DEFAULT_SOURCE
#define FUSE_USE_VERSION 34

#include "fs/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <fuse_opt.h>

#include "fs/cache.h"
#include "fs/internal.h"
#include "fs/ops.h"

/* Default -o readahead (KiB): two max_read requests' worth. */
#define CKPTFS_READAHEAD_KB 1024

/* libfuse 3.14's default max_threads: keep every worker it starts. */
#define LOOP_IDLE_THREADS 10

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
	/* parsed from the two above (check_numbers) */
	unsigned max_read;  /* when max_read_arg is set; clamped when mounting */
	unsigned readahead; /* KiB; 0 keeps the kernel's */
	int passthrough;    /* enum ckptfs_passthrough (check_passthrough) */
	int cache;          /* enum ckptfs_cache (check_cache) */
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

__attribute__((format(printf, 2, 3))) static void notice(const struct fs_mount *fm, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!fm->notice)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fm->notice(fm->notice_ctx, msg);
}

enum {
	KEY_ALLOW_OTHER,
	KEY_FSNAME,
	KEY_SUBTYPE,
	KEY_MAX_THREADS,
	KEY_NONEMPTY
};

#define MOUNT_OPT(t, field)                              \
	{                                                \
		t, offsetof(struct fs_mount, o.field), 1 \
	}

static const struct fuse_opt mount_opt_spec[] = {
	MOUNT_OPT("prefix=%s", prefix),
	MOUNT_OPT("layout=%s", layout),
	MOUNT_OPT("format=%s", format),
	MOUNT_OPT("strict", strict),
	/* numbers as text: libfuse's %u would wrap 2^32 + 1 to 1, "-1" to 2^32 - 1 */
	MOUNT_OPT("max_read=%s", max_read_arg),
	MOUNT_OPT("readahead=%s", readahead_arg),
	MOUNT_OPT("passthrough=%s", passthrough_arg),
	MOUNT_OPT("cache=%s", cache_arg),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
	FUSE_OPT_KEY("max_threads=", KEY_MAX_THREADS),
	FUSE_OPT_KEY("nonempty", KEY_NONEMPTY),
	/* fstab and mount(8) words that mean nothing to the daemon */
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("-n", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("-v", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

static int take_positional(char **slot, const char *arg)
{
	*slot = strdup(arg);
	return *slot ? 0 : -1;
}

static int mount_opt_proc(void *data, const char *arg, int key,
			  struct fuse_args *outargs)
{
	struct fs_mount *fm = data;
	struct mount_opts *o = &fm->o;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->mapping)
			return take_positional(&o->mapping, arg);
		if (!o->mountpoint)
			return take_positional(&o->mountpoint, arg);
		fs_errf(fm->err, fm->errlen, -EINVAL, "unexpected argument '%s'", arg);
		return -1; /* fuse_opt_parse's failure */
	case KEY_ALLOW_OTHER:
		o->allow_other = 1;
		break;
	case KEY_FSNAME:
		o->fsname = 1;
		break;
	case KEY_SUBTYPE:
		o->subtype = 1;
		break;
	case KEY_NONEMPTY:
		o->nonempty = 1;
		return 0; /* libfuse 3 would call it an unknown option */
	case KEY_MAX_THREADS:
		/* the API 3.4 loop config has no such field: say so, not nothing */
		notice(fm, "ignoring %s: libfuse starts up to 10 worker threads",
		       arg);
		return 0;
	}
	return 1; /* keep it: the rest is libfuse's to parse */
}

/*
 * What every ckptfs mount gets unless told otherwise; "ro" goes last so it
 * wins over an "rw" that mount(8) may pass.
 */
static int add_default_opts(struct fuse_args *args, const struct mount_opts *o)
{
	/* other users must meet the 0444/0555 modes, checked by the kernel */
	if (o->allow_other && fuse_opt_add_arg(args, "-odefault_permissions"))
		return -1;
	if (!o->fsname && fuse_opt_add_arg(args, "-ofsname=ckptfs"))
		return -1;
	/* also stops libfuse from naming the subtype after argv[0] */
	if (!o->subtype && fuse_opt_add_arg(args, "-osubtype=ckptfs"))
		return -1;
	return fuse_opt_add_arg(args, "-oro");
}

/* All of s a decimal number; values past max are max + 1. 0 or -EINVAL. */
static int parse_count(const char *s, unsigned long long max,
		       unsigned long long *out)
{
	unsigned long long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v <= max)
			v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v > max ? max + 1 : v;
	return 0;
}

/*
 * -o readahead= must be 0..CKPTFS_READAHEAD_MAX_KB (a bigger window only
 * pins page cache, and the byte count must fit the kernel's 32 bits);
 * -o max_read= any number, clamped later to what the kernel and the
 * splice pipes allow (with a notice saying so).
 */
static int check_numbers(struct mount_opts *o, char *err, size_t errlen)
{
	unsigned long long v;

	if (o->readahead_arg) {
		if (parse_count(o->readahead_arg, CKPTFS_READAHEAD_MAX_KB, &v))
			return fs_errf(err, errlen, -EINVAL, "readahead=%s is not a number (0 to %u KiB)",
				       o->readahead_arg, CKPTFS_READAHEAD_MAX_KB);
		if (v > CKPTFS_READAHEAD_MAX_KB)
			return fs_errf(err, errlen, -EINVAL, "readahead=%s is out of range (0 to %u KiB)",
				       o->readahead_arg, CKPTFS_READAHEAD_MAX_KB);
		o->readahead = (unsigned)v;
	} else {
		o->readahead = CKPTFS_READAHEAD_KB;
	}
	if (o->max_read_arg) {
		if (parse_count(o->max_read_arg, UINT_MAX - 1, &v))
			return fs_errf(err, errlen, -EINVAL, "max_read=%s is not a number (4096 to %u bytes)",
				       o->max_read_arg, CKPTFS_MAX_READ);
		o->max_read = (unsigned)v; /* UINT_MAX when larger: clamped too */
	}
	return 0;
}

/*
 * An option that names one of a few words: *out gets the index of arg in
 * names (the enum's order), 0 (auto) when the option is not given.
 */
static int option_word(const char *opt, const char *arg, const char *const *names, size_t n,
		       const char *expected, int *out, char *err, size_t errlen)
{
	*out = 0;
	for (size_t i = 0; arg && i < n; i++)
		if (!strcmp(arg, names[i])) {
			*out = (int)i;
			return 0;
		}
	if (!arg)
		return 0;
	return fs_errf(err, errlen, -EINVAL, "%s=%s is not %s", opt, arg, expected);
}

/* -o passthrough=auto|off; auto when not given. */
static int check_passthrough(struct mount_opts *o, char *err, size_t errlen)
{
	/* enum ckptfs_passthrough's order */
	static const char *const names[] = { "auto", "off" };

	return option_word("passthrough", o->passthrough_arg, names, 2, "auto or off", &o->passthrough, err,
			   errlen);
}

/* -o cache=auto|page|direct; auto when not given. */
static int check_cache(struct mount_opts *o, char *err, size_t errlen)
{
	/* enum ckptfs_cache's order */
	static const char *const names[] = { "auto", "page", "direct" };

	return option_word("cache", o->cache_arg, names, 3, "auto, page or direct", &o->cache, err, errlen);
}

int fs_mount_parse(int argc, char **argv, fs_notice_fn *notice_fn,
		   void *ctx, struct fs_mount **out, char *err, size_t errlen)
{
	struct fs_mount *fm = calloc(1, sizeof(*fm));
	int rc = -EINVAL;

	if (errlen)
		err[0] = '\0';
	if (!fm)
		return fs_errf(err, errlen, -ENOMEM, "out of memory");
	fm->args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	fm->notice = notice_fn;
	fm->notice_ctx = ctx;
	fm->err = err;
	fm->errlen = errlen;
	/* fuse_opt_parse() takes the fields at their offsets in fm->o */
	if (fuse_opt_parse(&fm->args, fm, mount_opt_spec, mount_opt_proc) == 0 &&
	    check_numbers(&fm->o, err, errlen) == 0 &&
	    check_passthrough(&fm->o, err, errlen) == 0 &&
	    check_cache(&fm->o, err, errlen) == 0 &&
	    add_default_opts(&fm->args, &fm->o) == 0 &&
	    fuse_parse_cmdline(&fm->args, &fm->cmd) == 0)
		rc = 0;
	fm->err = NULL;
	fm->req = (struct fs_mount_request){
		.mapping = fm->o.mapping,
		.mountpoint = fm->o.mountpoint,
		.prefix = fm->o.prefix,
		.layout = fm->o.layout,
		.format = fm->o.format,
		.strict = fm->o.strict,
		.allow_other = fm->o.allow_other,
		.show_help = fm->cmd.show_help,
		.show_version = fm->cmd.show_version,
	};
	if (rc) {
		fs_mount_free(fm);
		return rc;
	}
	*out = fm;
	return 0;
}

void fs_mount_free(struct fs_mount *fm)
{
	if (!fm)
		return;
	free(fm->cmd.mountpoint);
	free(fm->o.mapping);
	free(fm->o.mountpoint);
	free(fm->o.prefix);
	free(fm->o.layout);
	free(fm->o.format);
	free(fm->o.max_read_arg);
	free(fm->o.readahead_arg);
	free(fm->o.passthrough_arg);
	free(fm->o.cache_arg);
	fuse_opt_free_args(&fm->args);
	free(fm);
}

const struct fs_mount_request *fs_mount_request(const struct fs_mount *fm)
{
	return &fm->req;
}

void fs_report_libfuse_version(void)
{
	fuse_lowlevel_version();
}

/* Undo mountinfo's octal escapes (\040 for a blank) in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/*
 * Find the mount at abs in the mount table; on success copy its device
 * ("major:minor") into dev (if not NULL) and return 1. Asked of the table,
 * not of stat(): a dead FUSE mount still answers stat from the kernel's
 * cache, and stat() of our own mount before the loop runs would hang.
 */
static int find_mount(const char *abs, char *dev, size_t devlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, mnt[PATH_MAX * 4 + 1], devno[32];
	size_t cap = 0;
	int found = 0;

	if (!f)
		return 0;
	while (!found && getline(&line, &cap, f) > 0) {
		/* id parent major:minor root MOUNTPOINT ... */
		if (sscanf(line, "%*s %*s %31s %*s %4096s", devno, mnt) == 2) {
			unescape_octal(mnt);
			found = !strcmp(mnt, abs);
		}
	}
	if (found && dev)
		snprintf(dev, devlen, "%s", devno);
	free(line);
	fclose(f);
	return found;
}

/*
 * Buffered reads reach the daemon in readahead-sized requests, 128 KiB by
 * default; a larger window fills each request up to max_read and keeps
 * one in flight while the next is served (first read of a 1 GiB merge:
 * 2.7 -> 4.0 GB/s). Needs root (sysfs); best effort. On our INIT reply
 * the kernel takes the smaller of this window and the reply's
 * max_readahead, so it is set between mount and INIT, and init() asks for
 * the same (ops.c).
 */
static void set_readahead(const struct fs_mount *fm, unsigned kb)
{
	char dev[32], path[96];
	FILE *f;
	int ok;

	if (!kb || !find_mount(fm->o.mountpoint, dev, sizeof(dev)))
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	f = fopen(path, "we");
	ok = f && fprintf(f, "%u\n", kb) > 0;
	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok && fm->o.readahead_arg)
		notice(fm, "cannot set readahead=%u: '%s': %s", kb, path,
		       strerror(errno));
}

/* mount.fuse3 may pass an open /dev/fuse as /dev/fd/N: no directory. */
static int is_fd_mountpoint(const char *path)
{
	unsigned fd;
	char c;

	return sscanf(path, "/dev/fd/%u%c", &fd, &c) == 1;
}

/* -EBUSY with the message, if something is mounted at abs. */
static int refuse_if_mounted(const char *abs, char *err, size_t errlen)
{
	if (!find_mount(abs, NULL, 0))
		return 0;
	return fs_errf(err, errlen, -EBUSY, "mountpoint '%s' is already mounted (unmount it first: fusermount3 -u '%s')",
		       abs, abs);
}

/*
 * 0 if the directory abs holds nothing, 1 if it holds something, or a
 * negative errno. A mount would hide what is there (and a program still
 * writing into it would go on unseen), so it is refused unless asked for.
 */
static int has_entries(const char *abs)
{
	DIR *d = opendir(abs);
	struct dirent *e;
	int found = 0;

	if (!d)
		return -errno;
	while (!found && (e = readdir(d)))
		found = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return found;
}

int fs_mount_check_mountpoint(struct fs_mount *fm, char *err, size_t errlen)
{
	const char *path = fm->o.mountpoint;
	struct stat st;
	char *abs;
	int rc;

	if (is_fd_mountpoint(path))
		return 0;
	if (stat(path, &st) != 0) {
		int e = errno;

		if (e == ENOENT)
			return fs_errf(err, errlen, -e, "mountpoint '%s' does not exist (create it: mkdir -p '%s')",
				       path, path);
		if (e == ENOTCONN)
			return fs_errf(err, errlen, -e, "mountpoint '%s': %s (a dead mount? try 'fusermount3 -u %s')",
				       path, strerror(e), path);
		return fs_errf(err, errlen, -e, "cannot access mountpoint '%s': %s",
			       path, strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return fs_errf(err, errlen, -ENOTDIR, "mountpoint '%s' is not a directory (mount on an empty directory)",
			       path);
	abs = realpath(path, NULL);
	if (!abs) {
		int e = errno;

		return fs_errf(err, errlen, -e, "cannot resolve mountpoint '%s': %s", path,
			       strerror(e));
	}
	rc = refuse_if_mounted(abs, err, errlen);
	if (rc == 0 && !fm->o.nonempty) {
		rc = has_entries(abs);
		if (rc < 0)
			fs_errf(err, errlen, rc, "cannot access mountpoint '%s': %s",
				path, strerror(-rc));
		else if (rc > 0)
			rc = fs_errf(err, errlen, -ENOTEMPTY, "mountpoint '%s' is not empty (mount on an empty directory, or add -o nonempty to hide what is there)",
				     path);
	}
	if (rc) {
		free(abs);
		return rc;
	}
	free(fm->o.mountpoint);
	fm->o.mountpoint = abs;
	fm->req.mountpoint = abs;
	return 0;
}

/* fuse_log levels are syslog priorities, in the same order. */
static void syslog_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

void fs_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the soft limit may do */
	}
}

/* Serve requests until unmounted or signalled; 0, a signal or -errno. */
static int run_loop(struct fuse_session *se, const struct fuse_cmdline_opts *cmd)
{
	struct fuse_loop_config cfg;

	if (cmd->singlethread)
		return fuse_session_loop(se);
	memset(&cfg, 0, sizeof(cfg));
	cfg.clone_fd = cmd->clone_fd;
	/*
	 * Unset is UINT_MAX, which libfuse 3.14 itself rejects with a message;
	 * keeping as many idle workers as it may start (10) is what it means.
	 */
	cfg.max_idle_threads = cmd->max_idle_threads == UINT_MAX ? LOOP_IDLE_THREADS : cmd->max_idle_threads;
	return fuse_session_loop_mt(se, &cfg);
}

/*
 * The check of fs_mount_check_mountpoint() runs before the view is built,
 * so two daemons started together on one mountpoint would both pass it
 * and stack two mounts. Mounting is therefore serialized by an exclusive
 * flock on the mountpoint directory, and the mount table asked again
 * under the lock: the second daemon waits for the first to mount, then
 * sees its mount and refuses. The lock is released once mounted (close
 * the returned fd); a mountpoint opened after that is the mount's root,
 * whose lock is another inode's, but by then the table shows the mount.
 * 0 with *lock the locked fd (-1 for a /dev/fd/N mountpoint: nothing to
 * lock), or a negative errno with a message.
 */
static int lock_and_recheck(const struct fs_mount *fm, struct fuse_session *se,
			    int *lock, char *err, size_t errlen)
{
	const char *mnt = fm->o.mountpoint;
	int fd, rc;

	*lock = -1;
	if (is_fd_mountpoint(mnt))
		return 0;
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return fs_errf(err, errlen, rc, "cannot access mountpoint '%s': %s", mnt,
			       strerror(-rc));
	}
	while (flock(fd, LOCK_EX) != 0) {
		/* a SIGTERM while waiting ends the attempt, as it would the loop */
		if (errno != EINTR || fuse_session_exited(se)) {
			rc = -errno;
			fs_errf(err, errlen, rc, "cannot lock mountpoint '%s': %s", mnt,
				strerror(-rc));
			close(fd);
			return rc;
		}
	}
	rc = refuse_if_mounted(mnt, err, errlen);
	if (rc) {
		close(fd);
		return rc;
	}
	*lock = fd;
	return 0;
}

/* Mount, leave the foreground unless -f, serve. */
static int serve(struct fs_mount *fm, struct ckptfs *fs, char *err,
		 size_t errlen)
{
	struct fuse_session *se;
	int rc, ret, lock;

	se = fuse_session_new(&fm->args, &ckptfs_ll_ops, sizeof(ckptfs_ll_ops), fs);
	if (!se)
		return fs_errf(err, errlen, -EINVAL, "cannot start a FUSE session (see the message above; '%s --help'"
						     " lists the options)",
			       "ckptfs MAPPING MOUNTPOINT");
	rc = -EIO;
	if (fuse_set_signal_handlers(se) != 0) {
		fs_errf(err, errlen, rc, "cannot set signal handlers");
		goto out_destroy;
	}
	ret = lock_and_recheck(fm, se, &lock, err, errlen);
	if (ret) {
		rc = ret;
		goto out_signals;
	}
	ret = fuse_session_mount(se, fm->o.mountpoint);
	if (lock >= 0)
		close(lock); /* unlocks: the mount table now shows ours */
	if (ret != 0) {
		fs_errf(err, errlen, rc, "cannot mount on '%s' (see the message above)",
			fm->o.mountpoint);
		goto out_signals;
	}
	set_readahead(fm, fs->max_readahead / 1024);
	if (!fm->cmd.foreground) {
		openlog("ckptfs", LOG_PID, LOG_DAEMON);
		fuse_set_log_func(syslog_log);
	}
	if (fuse_daemonize(fm->cmd.foreground) != 0) {
		fs_errf(err, errlen, rc, "cannot go into the background");
		goto out_unmount;
	}
	ret = run_loop(se, &fm->cmd);
	/* unmounted (0) or SIGTERM/SIGINT/SIGHUP (> 0) are a normal end */
	rc = ret < 0 ? ret : 0;
	if (ret < 0) {
		fs_errf(err, errlen, ret, "session ended: %s", strerror(-ret));
		fuse_log(FUSE_LOG_ERR, "ckptfs: session ended: %s\n", strerror(-ret));
	}
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return rc;
}

int fs_mount_serve(struct fs_mount *fm, const struct view *v, char *err,
		   size_t errlen)
{
	const struct mount_opts *o = &fm->o;
	unsigned limit = cache_max_read_limit();
	char opt[64];
	struct ckptfs fs;
	int rc;

	if (ckptfs_init(&fs, v, o->max_read_arg ? o->max_read : cache_default_max_read(o->cache, limit),
			limit))
		return fs_errf(err, errlen, -ENOMEM, "out of memory");
	fs.max_readahead = 1024 * o->readahead; /* at most 1 GiB: no wrap */
	fs.passthrough = o->passthrough;
	fs.cache = o->cache;
	if (o->max_read_arg && o->max_read != fs.max_read)
		notice(fm, "max_read=%s is out of range, using %u", o->max_read_arg,
		       fs.max_read);
	/* the same value init() sets, or libfuse fails the mount (EPROTO) */
	snprintf(opt, sizeof(opt), "-omax_read=%u", fs.max_read);
	if (fuse_opt_add_arg(&fm->args, opt))
		rc = fs_errf(err, errlen, -ENOMEM, "out of memory");
	else
		rc = serve(fm, &fs, err, errlen);
	ckptfs_release(&fs);
	return rc;
}
