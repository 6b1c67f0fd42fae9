/*
 * session.c - the mountpoint checks and the FUSE session that serves a
 * view (see fs.h) on a parsed command line (options.c): mount, daemonize
 * only once mounted (so the command's exit status tells the truth), run
 * the worker loop, unmount.
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
#include "fs/options.h"
#include "fs/uring.h"

/* libfuse 3.14's default max_threads: keep every worker it starts. */
#define LOOP_IDLE_THREADS 10

void fs_report_libfuse_version(void) { fuse_lowlevel_version(); }

/* Undo mountinfo's octal escapes (\040 for a blank) in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
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
		fs_mount_notice(fm, "cannot set readahead=%u: '%s': %s", kb, path, strerror(errno));
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
	return fs_errf(err, errlen, -EBUSY,
		       "mountpoint '%s' is already mounted (unmount it first: fusermount3 -u '%s')",
		       abs, abs);
}

/*
 * 0 if the directory abs holds nothing, 1 if it holds something, or a
 * negative errno.
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

/*
 * -ENOTEMPTY with the message if the directory abs (path as given) holds
 * anything: a mount would hide it (and a program still writing into it
 * would go on unseen), so it is refused unless asked for (-o nonempty).
 */
static int refuse_if_not_empty(const char *abs, const char *path, char *err, size_t errlen)
{
	int rc = has_entries(abs);

	if (rc < 0)
		return fs_errf(err, errlen, rc, "cannot access mountpoint '%s': %s", path,
			       strerror(-rc));
	if (rc > 0)
		return fs_errf(
			err, errlen, -ENOTEMPTY,
			"mountpoint '%s' is not empty (mount on an empty directory, or add -o nonempty to hide what is there)",
			path);
	return 0;
}

/* 0 if path is a directory, else -errno with a message saying what to do. */
static int check_directory(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int e;

	if (stat(path, &st) != 0) {
		e = errno;
		if (e == ENOENT)
			return fs_errf(err, errlen, -e,
				       "mountpoint '%s' does not exist (create it: mkdir -p '%s')",
				       path, path);
		if (e == ENOTCONN)
			return fs_errf(
				err, errlen, -e,
				"mountpoint '%s': %s (a dead mount? try 'fusermount3 -u %s')", path,
				strerror(e), path);
		return fs_errf(err, errlen, -e, "cannot access mountpoint '%s': %s", path,
			       strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return fs_errf(err, errlen, -ENOTDIR,
			       "mountpoint '%s' is not a directory (mount on an empty directory)",
			       path);
	return 0;
}

int fs_mount_check_mountpoint(struct fs_mount *fm, char *err, size_t errlen)
{
	const char *path = fm->o.mountpoint;
	char *abs;
	int rc;

	if (is_fd_mountpoint(path))
		return 0;
	rc = check_directory(path, err, errlen);
	if (rc)
		return rc;
	abs = realpath(path, NULL);
	if (!abs) {
		rc = -errno;
		return fs_errf(err, errlen, rc, "cannot resolve mountpoint '%s': %s", path,
			       strerror(-rc));
	}
	rc = refuse_if_mounted(abs, err, errlen);
	if (rc == 0 && !fm->o.nonempty)
		rc = refuse_if_not_empty(abs, path, err, errlen);
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
	cfg.max_idle_threads =
		cmd->max_idle_threads == UINT_MAX ? LOOP_IDLE_THREADS : cmd->max_idle_threads;
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
static int lock_and_recheck(const struct fs_mount *fm, struct fuse_session *se, int *lock,
			    char *err, size_t errlen)
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
static int serve(struct fs_mount *fm, struct ckptfs *fs, char *err, size_t errlen)
{
	struct fuse_session *se;
	int rc, ret, lock;

	se = fuse_session_new(&fm->args, &ckptfs_ll_ops, sizeof(ckptfs_ll_ops), fs);
	if (!se)
		return fs_errf(err, errlen, -EINVAL,
			       "cannot start a FUSE session (see the message above; '%s --help'"
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

int fs_mount_serve(struct fs_mount *fm, const struct view *v, char *err, size_t errlen)
{
	const struct mount_opts *o = &fm->o;
	unsigned limit = cache_max_read_limit();
	char opt[64];
	struct ckptfs fs;
	int rc;

	if (ckptfs_init(&fs, v,
			o->max_read_arg ? o->max_read : cache_default_max_read(o->cache, limit),
			limit))
		return fs_errf(err, errlen, -ENOMEM, "out of memory");
	fs.max_readahead = 1024 * o->readahead; /* at most 1 GiB: no wrap */
	fs.passthrough = o->passthrough;
	fs.cache = o->cache;
	fs.uring = o->uring;
	if (o->max_read_arg && o->max_read != fs.max_read)
		fs_mount_notice(fm, "max_read=%s is out of range, using %u", o->max_read_arg,
				fs.max_read);
	/* the same value init() sets, or libfuse fails the mount (EPROTO) */
	snprintf(opt, sizeof(opt), "-omax_read=%u", fs.max_read);
	if (fuse_opt_add_arg(&fm->args, opt) || uring_session_args(&fs, &fm->args))
		rc = fs_errf(err, errlen, -ENOMEM, "out of memory");
	else
		rc = serve(fm, &fs, err, errlen);
	ckptfs_release(&fs);
	return rc;
}
