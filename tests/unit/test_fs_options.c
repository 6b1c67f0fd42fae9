/*
 * test_fs_options.c - the mount command line (fs/options.c) as mount(8),
 * mount.fuse3 and fstab pass it, parsed without a FUSE session: the
 * positional arguments, ckptfs's own -o words and their exact messages,
 * numbers that must not wrap, the options every mount gets, the fstab
 * words dropped and what is left for libfuse.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fs/fs.h"
#include "fs/ops.h"
#include "fs/options.h"

/* The notices one parse sent, one per line. */
static char notices[1024];

static void collect_notice(void *ctx, const char *msg)
{
	size_t used = strlen(notices);

	(void)ctx;
	snprintf(notices + used, sizeof(notices) - used, "%s\n", msg);
}

/*
 * Parse "ckptfs", first and the words after it up to a NULL, with err
 * (errlen bytes; may be NULL) for the message. Returns fs_mount_parse's
 * code; *out is set only on success.
 */
static int vparse(struct fs_mount **out, char *err, size_t errlen, const char *first, va_list ap)
{
	char *argv[32] = { "ckptfs", (char *)first };
	int argc = first ? 2 : 1;

	notices[0] = '\0';
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	return fs_mount_parse(argc, argv, collect_notice, NULL, out, err, errlen);
}

static int parse(struct fs_mount **out, char *err, size_t errlen, const char *first, ...)
{
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = vparse(out, err, errlen, first, ap);
	va_end(ap);
	return rc;
}

/* The parse must succeed, with no message; the caller frees the result. */
#define PARSE_OK(...) parse_ok(__VA_ARGS__, (char *)NULL)
static struct fs_mount *parse_ok(const char *first, ...)
{
	char err[256] = "untouched";
	struct fs_mount *fm = NULL;
	va_list ap;

	va_start(ap, first);
	assert_int_equal(vparse(&fm, err, sizeof(err), first, ap), 0);
	va_end(ap);
	assert_string_equal(err, "");
	assert_non_null(fm);
	return fm;
}

/* The parse must fail with -EINVAL and exactly want as its message. */
#define PARSE_ERROR(want, ...) parse_error(want, __VA_ARGS__, (char *)NULL)
static void parse_error(const char *want, const char *first, ...)
{
	struct fs_mount *fm = (struct fs_mount *)&fm; /* must stay unwritten */
	char err[256];
	va_list ap;

	va_start(ap, first);
	assert_int_equal(vparse(&fm, err, sizeof(err), first, ap), -EINVAL);
	va_end(ap);
	assert_string_equal(err, want);
	assert_ptr_equal(fm, &fm);
}

/*
 * The -o words libfuse will mount with, as ",a,b,c,": fuse_opt keeps them
 * as "-o" "a,b" or "-oa" arguments, in any grouping.
 */
static const char *libfuse_opts(const struct fs_mount *fm, char *buf, size_t len)
{
	size_t used = 0;

	buf[used++] = ',';
	buf[used] = '\0';
	for (int i = 1; i < fm->args.argc; i++) {
		const char *a = fm->args.argv[i];

		if (!strcmp(a, "-o") && i + 1 < fm->args.argc)
			a = fm->args.argv[++i];
		else if (!strncmp(a, "-o", 2))
			a += 2;
		else
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s,", a);
		assert_true(used < len);
	}
	return buf;
}

static int passes(const struct fs_mount *fm, const char *word)
{
	char buf[1024], key[128];

	snprintf(key, sizeof(key), ",%s,", word);
	return strstr(libfuse_opts(fm, buf, sizeof(buf)), key) != NULL;
}

static void test_positional_and_defaults(void **state)
{
	struct fs_mount *fm = PARSE_OK("merge.conf", "/mnt/merged");
	const struct fs_mount_request *req = fs_mount_request(fm);
	char buf[1024];

	(void)state;
	assert_string_equal(req->mapping, "merge.conf");
	assert_string_equal(req->mountpoint, "/mnt/merged");
	assert_null(req->prefix);
	assert_null(req->layout);
	assert_null(req->format);
	assert_false(req->strict);
	assert_false(req->allow_other);
	assert_false(req->show_help);
	assert_false(req->show_version);
	assert_int_equal(fm->o.readahead, CKPTFS_READAHEAD_KB);
	assert_int_equal(fm->o.passthrough, CKPTFS_PT_AUTO);
	assert_int_equal(fm->o.cache, CKPTFS_CACHE_AUTO);
	assert_int_equal(fm->o.uring, CKPTFS_URING_DEFAULT);
	assert_false(fm->o.nonempty);
	assert_false(fm->cmd.foreground);
	/* what every ckptfs mount gets; "ro" last, over mount(8)'s "rw" */
	assert_string_equal(libfuse_opts(fm, buf, sizeof(buf)),
			    ",fsname=ckptfs,subtype=ckptfs,ro,");
	assert_string_equal(notices, "");
	fs_mount_free(fm);
}

static void test_own_options_are_taken(void **state)
{
	struct fs_mount *fm = PARSE_OK("m.conf", "/mnt", "-o",
				       "prefix=best,layout=shards,format=safetensors,strict");
	const struct fs_mount_request *req = fs_mount_request(fm);

	(void)state;
	assert_string_equal(req->prefix, "best");
	assert_string_equal(req->layout, "shards");
	assert_string_equal(req->format, "safetensors");
	assert_true(req->strict);
	/* libfuse would refuse them as unknown */
	assert_false(passes(fm, "prefix=best"));
	assert_false(passes(fm, "layout=shards"));
	assert_false(passes(fm, "strict"));
	fs_mount_free(fm);
}

/* the remote-source words reach the command as given; it checks them */
static void test_remote_options_are_taken(void **state)
{
	struct fs_mount *fm = PARSE_OK("m.conf", "/mnt", "-o",
				       "cache_dir=/var/cache/x,cache_size=2G,remote_timeout=2.5");
	const struct fs_mount_request *req = fs_mount_request(fm);

	(void)state;
	assert_string_equal(req->cache_dir, "/var/cache/x");
	assert_string_equal(req->cache_size, "2G");
	assert_string_equal(req->remote_timeout, "2.5");
	assert_false(passes(fm, "cache_size=2G"));
	assert_false(passes(fm, "remote_timeout=2.5"));
	fs_mount_free(fm);
	fm = PARSE_OK("m.conf", "/mnt");
	req = fs_mount_request(fm);
	assert_null(req->cache_dir);
	assert_null(req->cache_size);
	assert_null(req->remote_timeout);
	fs_mount_free(fm);
}

static void test_options_before_positionals(void **state)
{
	/* mount.fuse3 passes "-o OPTS" first, then the two paths */
	struct fs_mount *fm = PARSE_OK("-o", "prefix=p", "-f", "m.conf", "/mnt");

	(void)state;
	assert_string_equal(fs_mount_request(fm)->mapping, "m.conf");
	assert_string_equal(fs_mount_request(fm)->mountpoint, "/mnt");
	assert_string_equal(fs_mount_request(fm)->prefix, "p");
	assert_true(fm->cmd.foreground);
	fs_mount_free(fm);
}

static void test_allow_other_adds_default_permissions(void **state)
{
	struct fs_mount *fm = PARSE_OK("m.conf", "/mnt", "-o", "allow_other");

	(void)state;
	assert_true(fs_mount_request(fm)->allow_other);
	/* libfuse's to act on; the kernel then checks the 0444/0555 modes */
	assert_true(passes(fm, "allow_other"));
	assert_true(passes(fm, "default_permissions"));
	fs_mount_free(fm);
}

static void test_given_fsname_and_subtype_win(void **state)
{
	struct fs_mount *fm = PARSE_OK("m.conf", "/mnt", "-o", "fsname=mine,subtype=x");

	(void)state;
	assert_true(passes(fm, "fsname=mine"));
	assert_true(passes(fm, "subtype=x"));
	assert_false(passes(fm, "fsname=ckptfs"));
	assert_false(passes(fm, "subtype=ckptfs"));
	fs_mount_free(fm);
}

static void test_fstab_words_are_dropped(void **state)
{
	struct fs_mount *fm =
		PARSE_OK("m.conf", "/mnt", "-n", "-v", "-o",
			 "defaults,auto,noauto,nofail,_netdev,user,nouser,users,nonempty");
	char buf[1024];

	(void)state;
	assert_true(fm->o.nonempty);
	/* nonempty too: libfuse 3 would call it an unknown option */
	assert_string_equal(libfuse_opts(fm, buf, sizeof(buf)),
			    ",fsname=ckptfs,subtype=ckptfs,ro,");
	fs_mount_free(fm);
}

static void test_max_threads_is_a_notice(void **state)
{
	struct fs_mount *fm = PARSE_OK("m.conf", "/mnt", "-o", "max_threads=4");

	(void)state;
	assert_string_equal(notices,
			    "ignoring max_threads=4: libfuse starts up to 10 worker threads\n");
	assert_false(passes(fm, "max_threads=4"));
	fs_mount_free(fm);
}

static void test_help_and_version(void **state)
{
	struct fs_mount *fm = PARSE_OK("-h");

	(void)state;
	assert_true(fs_mount_request(fm)->show_help);
	assert_null(fs_mount_request(fm)->mapping);
	fs_mount_free(fm);
	fm = PARSE_OK("--version");
	assert_true(fs_mount_request(fm)->show_version);
	fs_mount_free(fm);
}

static void test_readahead(void **state)
{
	struct fs_mount *fm = PARSE_OK("m.conf", "/mnt", "-o", "readahead=0");

	(void)state;
	assert_int_equal(fm->o.readahead, 0); /* keeps the kernel's */
	fs_mount_free(fm);
	fm = PARSE_OK("m.conf", "/mnt", "-o", "readahead=1048576");
	assert_int_equal(fm->o.readahead, CKPTFS_READAHEAD_MAX_KB);
	fs_mount_free(fm);
	PARSE_ERROR("readahead=1048577 is out of range (0 to 1048576 KiB)", "m.conf", "/mnt", "-o",
		    "readahead=1048577");
	/* no wrap: 2^64 + 1 is out of range, not 1 */
	PARSE_ERROR("readahead=18446744073709551617 is out of range (0 to 1048576 KiB)", "m.conf",
		    "/mnt", "-o", "readahead=18446744073709551617");
	PARSE_ERROR("readahead=-1 is not a number (0 to 1048576 KiB)", "m.conf", "/mnt", "-o",
		    "readahead=-1");
	PARSE_ERROR("readahead=+4 is not a number (0 to 1048576 KiB)", "m.conf", "/mnt", "-o",
		    "readahead=+4");
	PARSE_ERROR("readahead=4k is not a number (0 to 1048576 KiB)", "m.conf", "/mnt", "-o",
		    "readahead=4k");
	PARSE_ERROR("readahead= is not a number (0 to 1048576 KiB)", "m.conf", "/mnt", "-o",
		    "readahead=");
}

static void test_max_read(void **state)
{
	struct fs_mount *fm = PARSE_OK("m.conf", "/mnt");

	(void)state;
	assert_null(fm->o.max_read_arg); /* the cache mode's default, when mounting */
	fs_mount_free(fm);
	fm = PARSE_OK("m.conf", "/mnt", "-o", "max_read=131072");
	assert_int_equal(fm->o.max_read, 131072);
	assert_false(passes(fm, "max_read=131072")); /* session.c adds the clamped one */
	fs_mount_free(fm);
	/* any size parses (it is clamped when mounting, with a notice), none wraps */
	fm = PARSE_OK("m.conf", "/mnt", "-o", "max_read=4294967297");
	assert_int_equal(fm->o.max_read, UINT_MAX);
	fs_mount_free(fm);
	fm = PARSE_OK("m.conf", "/mnt", "-o", "max_read=0");
	assert_int_equal(fm->o.max_read, 0);
	fs_mount_free(fm);
	PARSE_ERROR("max_read=1M is not a number (4096 to 1048576 bytes)", "m.conf", "/mnt", "-o",
		    "max_read=1M");
	PARSE_ERROR("max_read=-1 is not a number (4096 to 1048576 bytes)", "m.conf", "/mnt", "-o",
		    "max_read=-1");
}

static void test_words(void **state)
{
	struct fs_mount *fm = PARSE_OK("m.conf", "/mnt", "-o", "passthrough=off,cache=page");

	(void)state;
	assert_int_equal(fm->o.passthrough, CKPTFS_PT_OFF);
	assert_int_equal(fm->o.cache, CKPTFS_CACHE_PAGE);
	fs_mount_free(fm);
	fm = PARSE_OK("m.conf", "/mnt", "-o", "passthrough=auto,cache=direct");
	assert_int_equal(fm->o.passthrough, CKPTFS_PT_AUTO);
	assert_int_equal(fm->o.cache, CKPTFS_CACHE_DIRECT);
	fs_mount_free(fm);
	fm = PARSE_OK("m.conf", "/mnt", "-o", "cache=auto");
	assert_int_equal(fm->o.cache, CKPTFS_CACHE_AUTO);
	fs_mount_free(fm);
	PARSE_ERROR("passthrough=on is not auto or off", "m.conf", "/mnt", "-o", "passthrough=on");
	PARSE_ERROR("io_uring=on is not auto or off", "m.conf", "/mnt", "-o", "io_uring=on");
	PARSE_ERROR("cache=none is not auto, page or direct", "m.conf", "/mnt", "-o", "cache=none");
	PARSE_ERROR("cache= is not auto, page or direct", "m.conf", "/mnt", "-o", "cache=");
	/* the words are exact */
	PARSE_ERROR("cache=Page is not auto, page or direct", "m.conf", "/mnt", "-o", "cache=Page");
}

/* -o io_uring= is ckptfs's: taken, never passed on (libfuse < 3.18 would refuse it) */
static void test_io_uring(void **state)
{
	struct fs_mount *fm = PARSE_OK("m.conf", "/mnt", "-o", "io_uring=off");
	char buf[1024];

	(void)state;
	assert_int_equal(fm->o.uring, CKPTFS_URING_OFF);
	assert_string_equal(libfuse_opts(fm, buf, sizeof(buf)),
			    ",fsname=ckptfs,subtype=ckptfs,ro,");
	fs_mount_free(fm);
	fm = PARSE_OK("m.conf", "/mnt", "-o", "ro,io_uring=auto");
	assert_int_equal(fm->o.uring, CKPTFS_URING_AUTO);
	fs_mount_free(fm);
	PARSE_ERROR("io_uring= is not auto or off", "m.conf", "/mnt", "-o", "io_uring=");
	PARSE_ERROR("io_uring=OFF is not auto or off", "m.conf", "/mnt", "-o", "io_uring=OFF");
}

static void test_a_third_argument(void **state)
{
	(void)state;
	PARSE_ERROR("unexpected argument 'extra'", "m.conf", "/mnt", "extra");
}

static void test_libfuse_own_error_leaves_err_empty(void **state)
{
	char err[64] = "untouched";
	struct fs_mount *fm = NULL;

	(void)state;
	/* libfuse prints "missing argument after `-o'" itself */
	assert_int_equal(parse(&fm, err, sizeof(err), "m.conf", "/mnt", "-o", NULL), -EINVAL);
	assert_string_equal(err, "");
	assert_null(fm);
}

static void test_no_error_buffer(void **state)
{
	struct fs_mount *fm = NULL;

	(void)state;
	assert_int_equal(parse(&fm, NULL, 0, "m.conf", "/mnt", "-o", "cache=x", NULL), -EINVAL);
	assert_int_equal(parse(&fm, NULL, 0, "m.conf", "/mnt", "extra", NULL), -EINVAL);
	assert_null(fm);
	fs_mount_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positional_and_defaults),
		cmocka_unit_test(test_own_options_are_taken),
		cmocka_unit_test(test_remote_options_are_taken),
		cmocka_unit_test(test_options_before_positionals),
		cmocka_unit_test(test_allow_other_adds_default_permissions),
		cmocka_unit_test(test_given_fsname_and_subtype_win),
		cmocka_unit_test(test_fstab_words_are_dropped),
		cmocka_unit_test(test_max_threads_is_a_notice),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_readahead),
		cmocka_unit_test(test_max_read),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_io_uring),
		cmocka_unit_test(test_a_third_argument),
		cmocka_unit_test(test_libfuse_own_error_leaves_err_empty),
		cmocka_unit_test(test_no_error_buffer),
	};

	return cmocka_run_group_tests_name("fs_options", tests, NULL, NULL);
}
