/*
 * options.c - the mount command line (libfuse's option syntax, as
 * mount(8), mount.fuse3 and fstab pass it): ckptfs's -o words are taken
 * and checked here (numbers as text, so none wraps), the rest is left in
 * the arguments libfuse mounts with, plus the options every ckptfs mount
 * gets (read-only, fsname and subtype). No FUSE session is needed.
 */
#include "fs/options.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"
#include "fs/ops.h"

void fs_mount_notice(const struct fs_mount *fm, const char *fmt, ...)
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
	MOUNT_OPT("prefix=%s", prefix), MOUNT_OPT("layout=%s", layout),
	MOUNT_OPT("format=%s", format), MOUNT_OPT("strict", strict),
	/* numbers as text: libfuse's %u would wrap 2^32 + 1 to 1, "-1" to 2^32 - 1 */
	MOUNT_OPT("max_read=%s", max_read_arg), MOUNT_OPT("readahead=%s", readahead_arg),
	MOUNT_OPT("passthrough=%s", passthrough_arg), MOUNT_OPT("cache=%s", cache_arg),
	/* ckptfs decides (uring.c); a bare "io_uring" is libfuse 3.18's own, left to it */
	MOUNT_OPT("io_uring=%s", uring_arg),
	/* remote sources: checked by the command, which makes the store */
	MOUNT_OPT("cache_dir=%s", cache_dir), MOUNT_OPT("cache_size=%s", cache_size),
	MOUNT_OPT("remote_timeout=%s", remote_timeout),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER), FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", KEY_SUBTYPE), FUSE_OPT_KEY("max_threads=", KEY_MAX_THREADS),
	FUSE_OPT_KEY("nonempty", KEY_NONEMPTY),
	/* fstab and mount(8) words that mean nothing to the daemon */
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("-n", FUSE_OPT_KEY_DISCARD), FUSE_OPT_KEY("-v", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

static int take_positional(char **slot, const char *arg)
{
	*slot = strdup(arg);
	return *slot ? 0 : -1;
}

static int mount_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
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
	case KEY_ALLOW_OTHER: o->allow_other = 1; break;
	case KEY_FSNAME: o->fsname = 1; break;
	case KEY_SUBTYPE: o->subtype = 1; break;
	case KEY_NONEMPTY:
		o->nonempty = 1;
		return 0; /* libfuse 3 would call it an unknown option */
	case KEY_MAX_THREADS:
		/* the API 3.4 loop config has no such field: say so, not nothing */
		fs_mount_notice(fm, "ignoring %s: libfuse starts up to 10 worker threads", arg);
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
static int parse_count(const char *s, unsigned long long max, unsigned long long *out)
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
			return fs_errf(err, errlen, -EINVAL,
				       "readahead=%s is not a number (0 to %u KiB)",
				       o->readahead_arg, CKPTFS_READAHEAD_MAX_KB);
		if (v > CKPTFS_READAHEAD_MAX_KB)
			return fs_errf(err, errlen, -EINVAL,
				       "readahead=%s is out of range (0 to %u KiB)",
				       o->readahead_arg, CKPTFS_READAHEAD_MAX_KB);
		o->readahead = (unsigned)v;
	} else {
		o->readahead = CKPTFS_READAHEAD_KB;
	}
	if (o->max_read_arg) {
		if (parse_count(o->max_read_arg, UINT_MAX - 1, &v))
			return fs_errf(err, errlen, -EINVAL,
				       "max_read=%s is not a number (4096 to %u bytes)",
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

	return option_word("passthrough", o->passthrough_arg, names, 2, "auto or off",
			   &o->passthrough, err, errlen);
}

/* -o cache=auto|page|direct; auto when not given. */
static int check_cache(struct mount_opts *o, char *err, size_t errlen)
{
	/* enum ckptfs_cache's order */
	static const char *const names[] = { "auto", "page", "direct" };

	return option_word("cache", o->cache_arg, names, 3, "auto, page or direct", &o->cache, err,
			   errlen);
}

/* -o io_uring=auto|off; CKPTFS_URING_DEFAULT (off) when not given. */
static int check_uring(struct mount_opts *o, char *err, size_t errlen)
{
	/* enum ckptfs_uring's order */
	static const char *const names[] = { "auto", "off" };

	if (!o->uring_arg) {
		o->uring = CKPTFS_URING_DEFAULT;
		return 0;
	}
	return option_word("io_uring", o->uring_arg, names, 2, "auto or off", &o->uring, err,
			   errlen);
}

int fs_mount_parse(int argc, char **argv, fs_notice_fn *notice_fn, void *ctx, struct fs_mount **out,
		   char *err, size_t errlen)
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
	    check_passthrough(&fm->o, err, errlen) == 0 && check_cache(&fm->o, err, errlen) == 0 &&
	    check_uring(&fm->o, err, errlen) == 0 && add_default_opts(&fm->args, &fm->o) == 0 &&
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
		.cache_dir = fm->o.cache_dir,
		.cache_size = fm->o.cache_size,
		.remote_timeout = fm->o.remote_timeout,
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
	free(fm->o.uring_arg);
	free(fm->o.cache_dir);
	free(fm->o.cache_size);
	free(fm->o.remote_timeout);
	fuse_opt_free_args(&fm->args);
	free(fm);
}

const struct fs_mount_request *fs_mount_request(const struct fs_mount *fm) { return &fm->req; }
