/*
 * cli_mount.c - `ckptfs MAPPING MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s]`, the
 * same command mount(8) runs as mount.ckptfs and mount.fuse3 runs for
 * type fuse.ckptfs: build the merged checkpoint, mount it read-only and
 * serve it until it is unmounted or the daemon gets SIGTERM/SIGINT.
 *
 * Nothing is mounted half-way: the mountpoint, the options, the mapping
 * and every source are checked, and the .index bytes built, before the
 * FUSE session exists (fs/fs.h does the mounting).
 *
 * Exit status: 0 mounted (and later unmounted, or stopped by a signal),
 * 1 bad input (options, mapping, sources), 2 the mount could not be made
 * (mountpoint missing or not a directory, FUSE refused).
 */
#include "cli/cli.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/help.h"
#include "fs/fs.h"
#include "mapping/mapping.h"
#include "store/store.h"
#include "view/view.h"

/* Notices of the fs module, while still in the foreground. */
static void print_notice(void *ctx, const char *msg)
{
	(void)ctx;
	cli_error("%s", msg);
}

/* -o cache_dir=, cache_size=, remote_timeout= into the store's options;
 * 0, or -1 with the error printed. */
static int remote_options(const struct fs_mount_request *req, struct store_options *so)
{
	char *end = NULL;
	double sec = req->remote_timeout ? strtod(req->remote_timeout, &end) : 0;

	so->cache_dir = req->cache_dir;
	if (req->cache_size &&
	    (store_parse_size(req->cache_size, &so->cache_size) || so->cache_size <= 0)) {
		cli_error("cache_size=%s is not a size (bytes, or a number and K, M, G or T)",
			  req->cache_size);
		return -1;
	}
	if (req->remote_timeout && (!*req->remote_timeout || *end || !(sec > 0) || sec > 86400)) {
		cli_error("remote_timeout=%s is not a number of seconds (above 0, at most 86400)",
			  req->remote_timeout);
		return -1;
	}
	so->timeout_ms = (int)(sec * 1000 + 0.5);
	return 0;
}

/*
 * Parse the mapping and build the whole view; warnings go to stderr. The
 * -o prefix= value is checked by view_build(), with the mapping's own
 * `prefix`, so that `ckptfs check` refuses exactly what a mount would.
 */
static int build_view(const struct fs_mount_request *req, struct mapping **m, struct view **v)
{
	/* what every user will see must be what every user may read */
	struct store_options so = { 0 };
	struct view_options vo = {
		.remote = &so,
		.prefix = req->prefix,
		.layout = -1,
		.public_sources = req->allow_other,
		.format = -1,
		.strict = req->strict,
		.compact = 1, /* the daemon serves files, not the plan */
	};
	enum mapping_layout layout;
	enum mapping_format format;

	if (remote_options(req, &so))
		return -1;
	if (req->layout && mapping_layout_parse(req->layout, &layout)) {
		cli_error("invalid layout '%s': expected 'single' or 'shards'", req->layout);
		return -1;
	}
	if (req->layout)
		vo.layout = (int)layout;
	if (req->format && mapping_format_parse(req->format, &format)) {
		cli_error("invalid format '%s': expected 'tensorflow', 'safetensors' or 'both'",
			  req->format);
		return -1;
	}
	if (req->format)
		vo.format = (int)format;
	/* prints FILE:LINE:COL diagnostics as they are, like check/ls do */
	if (cli_open_view(req->mapping, &vo, m, v))
		return -1;
	/*
	 * Building the plan peaks at about 100 bytes per tensor; hand
	 * the freed heap back so the daemon lives on the index and extents.
	 */
	malloc_trim(0);
	return 0;
}

/* --help, --version or a missing argument: the exit status, else -1. */
static int answer_without_mounting(const struct fs_mount_request *req, const char *progname)
{
	if (req->show_help) {
		/* the text is help.c's: libfuse's own lists options we ignore */
		help_mount(stdout, progname);
		return fflush(stdout) == 0 ? CLI_OK : CLI_BAD_INPUT;
	}
	if (req->show_version) {
		help_version(stdout, progname);
		/* before fusermount3, which libfuse runs, prints its version */
		fflush(stdout);
		fs_report_libfuse_version();
		return CLI_OK;
	}
	if (!req->mapping || !req->mountpoint)
		return help_usage_error(NULL, progname, "missing %s",
					req->mapping ? "MOUNTPOINT" : "MAPPING and MOUNTPOINT");
	return -1;
}

/* Check, build and serve; the exit status. */
static int mount_parsed(struct fs_mount *fm, const char *progname)
{
	const struct fs_mount_request *req = fs_mount_request(fm);
	struct mapping *m = NULL;
	struct view *v = NULL;
	char err[1024];
	int rc = answer_without_mounting(req, progname);

	if (rc >= 0)
		return rc;
	if (fs_mount_check_mountpoint(fm, err, sizeof(err))) {
		cli_error("%s", err);
		return CLI_MOUNT_FAILED;
	}
	rc = CLI_BAD_INPUT;
	if (build_view(req, &m, &v) == 0) {
		int e = fs_mount_serve(fm, v, err, sizeof(err));

		if (e)
			cli_error("%s", err);
		rc = e == 0 ? CLI_OK : e == -EINVAL ? CLI_BAD_INPUT : CLI_MOUNT_FAILED;
	}
	view_free(v);
	mapping_free(m);
	return rc;
}

int cli_mount(int argc, char **argv, const char *progname)
{
	struct fs_mount *fm;
	char err[1024];
	int rc;

	fs_raise_fd_limit();
	if (fs_mount_parse(argc, argv, print_notice, NULL, &fm, err, sizeof(err))) {
		if (err[0])
			cli_error("%s", err);
		return CLI_BAD_INPUT;
	}
	rc = mount_parsed(fm, progname);
	fs_mount_free(fm);
	return rc;
}
