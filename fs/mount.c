/*
 * mount.c - `ckptfs MAPPING MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s]`, the
 * same command mount(8) runs as mount.ckptfs and mount.fuse3 runs for
 * type fuse.ckptfs: build the merged checkpoint, mount it read-only and
 * serve it until it is unmounted or the daemon gets SIGTERM/SIGINT.
 *
 * Nothing is mounted half-way: the mountpoint, the options, the mapping
 * and every source are checked, and the .index bytes built, before the
 * FUSE session exists; the daemon goes into the background only once the
 * mount succeeded, so the exit status of the command tells the truth.
 *
 * Exit status: 0 mounted (and later unmounted, or stopped by a signal),
 * 1 bad input (options, mapping, sources), 2 the mount could not be made
 * (mountpoint missing or not a directory, FUSE refused).
 */
/* realpath and vsyslog are outside the POSIX set the project builds with */
#define _DEFAULT_SOURCE
#define FUSE_USE_VERSION 34

#include "fs/cli.h"
#include "fs/cli_view.h"
#include "fs/help.h"

#include <errno.h>
#include <malloc.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>

#include <fuse_lowlevel.h>
#include <fuse_opt.h>

#include "fs/ops.h"
#include "fs/view.h"
#include "mapping/mapping.h"

/* help.c's mount help states the max_read range in bytes */
_Static_assert(CKPTFS_MAX_READ == 524288, "update -o max_read in fs/help.c");

/* Default -o readahead (KiB): two max_read requests' worth. */
#define CKPTFS_READAHEAD_KB 1024

/* libfuse 3.14's default max_threads: keep every worker it starts. */
#define LOOP_IDLE_THREADS 10

struct mount_opts {
	char *mapping;     /* owned; the first positional argument */
	char *mountpoint;  /* owned; the second, then made absolute */
	char *prefix;      /* owned; -o prefix=, NULL: the mapping's */
	char *layout;      /* owned; -o layout=, NULL: the mapping's */
	unsigned max_read; /* -o max_read=, 0: CKPTFS_MAX_READ */
	unsigned readahead; /* -o readahead=KiB; 0 keeps the kernel's */
	int readahead_set;  /* readahead= was given */
	int allow_other;   /* these three are seen, and left for libfuse */
	int fsname;
	int subtype;
};

enum { KEY_ALLOW_OTHER, KEY_FSNAME, KEY_SUBTYPE, KEY_MAX_THREADS };

#define MOUNT_OPT(t, field) { t, offsetof(struct mount_opts, field), 1 }

static const struct fuse_opt mount_opt_spec[] = {
	MOUNT_OPT("prefix=%s", prefix),
	MOUNT_OPT("layout=%s", layout),
	MOUNT_OPT("max_read=%u", max_read),
	MOUNT_OPT("readahead=%u", readahead),
	{ "readahead=", offsetof(struct mount_opts, readahead_set), 1 },
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
	FUSE_OPT_KEY("max_threads=", KEY_MAX_THREADS),
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
	struct mount_opts *o = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->mapping)
			return take_positional(&o->mapping, arg);
		if (!o->mountpoint)
			return take_positional(&o->mountpoint, arg);
		cli_error("unexpected argument '%s'", arg);
		return -1;
	case KEY_ALLOW_OTHER:
		o->allow_other = 1;
		break;
	case KEY_FSNAME:
		o->fsname = 1;
		break;
	case KEY_SUBTYPE:
		o->subtype = 1;
		break;
	case KEY_MAX_THREADS:
		/* the API 3.4 loop config has no such field: say so, not nothing */
		cli_error("ignoring %s: libfuse starts up to 10 worker threads", arg);
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

/* Parse the command line: -1 to go on, else the exit status. */
static int parse_cmdline(struct fuse_args *args, struct mount_opts *o,
			 struct fuse_cmdline_opts *cmd, const char *progname)
{
	if (fuse_opt_parse(args, o, mount_opt_spec, mount_opt_proc) == -1 ||
	    add_default_opts(args, o) || fuse_parse_cmdline(args, cmd) != 0)
		return CLI_BAD_INPUT;
	if (cmd->show_help) {
		/* the text is help.c's: libfuse's own lists options we ignore */
		help_mount(stdout, progname);
		return fflush(stdout) == 0 ? CLI_OK : CLI_BAD_INPUT;
	}
	if (cmd->show_version) {
		help_version(stdout, progname);
		/* before fusermount3, which libfuse runs, prints its version */
		fflush(stdout);
		fuse_lowlevel_version();
		return CLI_OK;
	}
	if (!o->mapping || !o->mountpoint)
		return help_usage_error(NULL, progname, "missing %s",
					o->mapping ? "MOUNTPOINT" : "MAPPING and MOUNTPOINT");
	return -1;
}

/*
 * Check the mountpoint before anything else, and make *mountpoint absolute:
 * the daemon leaves its working directory, and unmounting needs the path.
 * mount.fuse3 may pass an open /dev/fuse as /dev/fd/N instead of a path.
 */
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
static void set_readahead(const char *mountpoint, unsigned kb, int explicit)
{
	char dev[32], path[96];
	FILE *f;
	int ok;

	if (!kb || !find_mount(mountpoint, dev, sizeof(dev)))
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	f = fopen(path, "we");
	ok = f && fprintf(f, "%u\n", kb) > 0;
	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok && explicit)
		cli_error("cannot set readahead=%u: '%s': %s", kb, path,
			  strerror(errno));
}


static int check_mountpoint(char **mountpoint)
{
	const char *path = *mountpoint;
	char *abs;
	unsigned fd;
	struct stat st;
	char c;

	if (sscanf(path, "/dev/fd/%u%c", &fd, &c) == 1)
		return 0;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			cli_error("mountpoint '%s' does not exist (create it: mkdir -p '%s')",
				  path, path);
		else if (errno == ENOTCONN)
			cli_error("mountpoint '%s': %s (a dead mount? try 'fusermount3 -u %s')",
				  path, strerror(errno), path);
		else
			cli_error("cannot access mountpoint '%s': %s", path,
				  strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_error("mountpoint '%s' is not a directory (mount on an empty directory)",
			  path);
		return -1;
	}
	abs = realpath(path, NULL);
	if (!abs) {
		cli_error("cannot resolve mountpoint '%s': %s", path, strerror(errno));
		return -1;
	}
	if (find_mount(abs, NULL, 0)) {
		cli_error("mountpoint '%s' is already mounted (unmount it first: fusermount3 -u '%s')",
			  abs, abs);
		free(abs);
		return -1;
	}
	free(*mountpoint);
	*mountpoint = abs;
	return 0;
}

/* A -o prefix= value must be one file name. */
static int check_prefix(const char *prefix)
{
	if (*prefix && !strchr(prefix, '/') && strcmp(prefix, ".") &&
	    strcmp(prefix, ".."))
		return 0;
	cli_error("invalid prefix '%s': must be a file name, without '/'", prefix);
	return -1;
}

/* Every file must be reachable by name: lookup and readdir stop at NAME_MAX. */
static int check_names(const struct view *v)
{
	for (size_t i = 0; i < view_num_files(v); i++) {
		const char *name = view_file_at(v, i)->name;

		if (strlen(name) > NAME_MAX) {
			cli_error("file name '%s' is longer than %d bytes: use a shorter prefix",
				  name, NAME_MAX);
			return -1;
		}
	}
	return 0;
}

/* Parse the mapping and build the whole view; warnings go to stderr. */
static int build_view(const struct mount_opts *o, struct mapping **m,
		      struct view **v)
{
	struct view_options vo = { .prefix = o->prefix, .layout = -1 };
	enum mapping_layout layout;

	if (o->layout && mapping_layout_parse(o->layout, &layout)) {
		cli_error("invalid layout '%s': expected 'single' or 'shards'",
			  o->layout);
		return -1;
	}
	if (o->layout)
		vo.layout = (int)layout;
	if (o->prefix && check_prefix(o->prefix))
		return -1;
	/* prints FILE:LINE:COL diagnostics as they are, like check/ls do */
	if (cli_open_view(o->mapping, &vo, m, v))
		return -1;
	view_compact(*v);
	/*
	 * Building the plan peaks at a few hundred bytes per tensor; hand
	 * the freed heap back so the daemon lives on the index and extents.
	 */
	malloc_trim(0);
	return check_names(*v);
}

/* fuse_log levels are syslog priorities, in the same order. */
static void syslog_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

/* One fd per source shard stays open for the life of the mount. */
static void raise_fd_limit(void)
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
	cfg.max_idle_threads = cmd->max_idle_threads == UINT_MAX ?
			       LOOP_IDLE_THREADS : cmd->max_idle_threads;
	return fuse_session_loop_mt(se, &cfg);
}

/* Mount, leave the foreground unless -f, serve; returns the exit status. */
static int serve(struct fuse_args *args, const struct fuse_cmdline_opts *cmd,
		 const struct mount_opts *o, struct ckptfs *fs)
{
	struct fuse_session *se;
	int rc = CLI_MOUNT_FAILED, ret;

	se = fuse_session_new(args, &ckptfs_ll_ops, sizeof(ckptfs_ll_ops), fs);
	if (!se) {
		cli_error("cannot start a FUSE session (see the message above; '%s --help'"
			  " lists the options)", "ckptfs MAPPING MOUNTPOINT");
		return CLI_BAD_INPUT;
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, o->mountpoint) != 0) {
		cli_error("cannot mount on '%s' (see the message above)", o->mountpoint);
		goto out_signals;
	}
	set_readahead(o->mountpoint, fs->max_readahead / 1024, o->readahead_set);
	if (!cmd->foreground) {
		openlog("ckptfs", LOG_PID, LOG_DAEMON);
		fuse_set_log_func(syslog_log);
	}
	if (fuse_daemonize(cmd->foreground) != 0)
		goto out_unmount;
	ret = run_loop(se, cmd);
	/* unmounted (0) or SIGTERM/SIGINT/SIGHUP (> 0) are a normal end */
	rc = ret < 0 ? CLI_MOUNT_FAILED : CLI_OK;
	if (ret < 0)
		fuse_log(FUSE_LOG_ERR, "ckptfs: session ended: %s\n", strerror(-ret));
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return rc;
}

/* Size the kernel's requests, build the state, and serve. */
static int mount_view(struct fuse_args *args, const struct mount_opts *o,
		      const struct fuse_cmdline_opts *cmd, const struct view *v)
{
	char opt[64];
	struct ckptfs fs;
	int rc;

	if (ckptfs_init(&fs, v, o->max_read ? o->max_read : CKPTFS_MAX_READ)) {
		cli_error("out of memory");
		return CLI_MOUNT_FAILED;
	}
	fs.max_readahead = 1024 * (o->readahead_set ? o->readahead
						    : CKPTFS_READAHEAD_KB);
	if (o->max_read && o->max_read != fs.max_read)
		cli_error("max_read=%u is out of range, using %u", o->max_read,
			  fs.max_read);
	/* the same value init() sets, or libfuse fails the mount (EPROTO) */
	snprintf(opt, sizeof(opt), "-omax_read=%u", fs.max_read);
	if (fuse_opt_add_arg(args, opt)) {
		cli_error("out of memory");
		rc = CLI_MOUNT_FAILED;
	} else {
		rc = serve(args, cmd, o, &fs);
	}
	ckptfs_release(&fs);
	return rc;
}

int cli_mount(int argc, char **argv, const char *progname)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd;
	struct mount_opts o;
	struct mapping *m = NULL;
	struct view *v = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&cmd, 0, sizeof(cmd));
	raise_fd_limit();
	rc = parse_cmdline(&args, &o, &cmd, progname);
	if (rc >= 0)
		goto out;
	rc = CLI_MOUNT_FAILED;
	if (check_mountpoint(&o.mountpoint))
		goto out;
	rc = CLI_BAD_INPUT;
	if (build_view(&o, &m, &v))
		goto out;
	rc = mount_view(&args, &o, &cmd, v);
out:
	if (v)
		view_free(v);
	if (m)
		mapping_free(m);
	free(cmd.mountpoint);
	free(o.mapping);
	free(o.mountpoint);
	free(o.prefix);
	free(o.layout);
	fuse_opt_free_args(&args);
	return rc;
}
