/*
 * main.c - the ckptfs command: subcommands that inspect checkpoints and
 * mappings, and the mount form `ckptfs MAPPING MOUNTPOINT [-o OPTS]` (also
 * installed as mount.ckptfs, the shape mount(8) and mount.fuse3 call).
 * Every help and usage text is in help.c.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/help.h"
#include "util/util.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct subcommand subcommands[] = {
	{ "ls", cli_ls },       { "verify", cli_verify },           { "cat", cli_cat },
	{ "check", cli_check }, { "materialize", cli_materialize }, { "tf-plugin", cli_tf_plugin },
};

int cli_ls(int argc, char **argv)
{
	const char *path = NULL;
	int objects = 0, json = 0;

	/* help_check_args() let only --objects, --json and one path through */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--objects"))
			objects = 1;
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			path = argv[i];
	}
	if (!path)
		return help_usage_error(help_find("ls"), NULL,
					"expected one CHECKPOINT or MAPPING");
	if (objects && json)
		return help_usage_error(help_find("ls"), NULL,
					"--json does not apply to --objects");
	if (objects)
		return cli_ls_objects(path);
	size_t n = strlen(path);

	if (n > 12 && !strcmp(path + n - 12, ".safetensors"))
		return cli_ls_safetensors(path, json);
	return cli_is_mapping(path) ? cli_ls_mapping(path, json) : cli_ls_checkpoint(path, json);
}

/* The name the command was run as, without its directory. */
static const char *progname(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	return slash ? slash + 1 : argv0;
}

static int run_subcommand(const struct subcommand *sc, int argc, char **argv)
{
	int rc = help_check_args(help_find(sc->name), &argc, argv);

	return rc >= 0 ? rc : sc->run(argc, argv);
}

/* Whether the mount form is asked for its --help or --version. */
static int asks_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ||
		    !strcmp(argv[i], "--version") || !strcmp(argv[i], "-V"))
			return 1;
	return 0;
}

/*
 * `ckptfs WORD ...` where WORD is neither a command nor an existing file:
 * a mistyped command (or mapping file name) says so, rather than failing
 * later on a mountpoint. 0 if it may well be the mount form.
 */
static int unknown_command(int argc, char **argv)
{
	const char *arg = argv[1], *alt;
	struct stat st;

	if (arg[0] == '-' || strchr(arg, '/') || asks_help(argc, argv) || stat(arg, &st) == 0 ||
	    errno != ENOENT)
		return 0;
	alt = help_suggest(arg);
	if (alt)
		cli_error("unknown command '%s' (did you mean '%s'?)", arg, alt);
	else
		cli_error("'%s' is not a command, and no mapping file '%s' exists", arg, arg);
	fputs("Try 'ckptfs --help' for more information.\n", stderr);
	return 1;
}

/*
 * A process that may hold S3 secrets (AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, or a shared credentials file the store may read)
 * is kept out of core dumps, so a crash does not write them to disk.
 */
static void guard_secrets(void)
{
	const char *home = getenv("HOME"), *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	char path[4096];

	if (!file && home) {
		snprintf(path, sizeof(path), "%s/.aws/credentials", home);
		file = path;
	}
	if (getenv("AWS_SECRET_ACCESS_KEY") || getenv("AWS_SESSION_TOKEN") ||
	    (file && access(file, F_OK) == 0))
		prctl(PR_SET_DUMPABLE, 0);
}

int main(int argc, char **argv)
{
	/*
	 * glibc's default threshold (128 KiB), kept fixed: left dynamic, it
	 * rises to the size of the first large block freed (up to 32 MiB),
	 * and the arrays a plan of a million tensors then grows (targets,
	 * an index's keys) are copied on every doubling inside the heap
	 * instead of remapped, and what is freed stays in the process: 30
	 * MB more at the peak of a mount of 1M tensors (docs/bench).
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	guard_secrets();
	/* mount(8) runs mount.ckptfs SOURCE DIR [-o OPTS]: always a mount */
	if (argc > 0 && !strcmp(progname(argv[0]), "mount.ckptfs"))
		return cli_mount(argc, argv, "mount.ckptfs");
	if (argc < 2) {
		help_short(stderr);
		return CLI_BAD_INPUT;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help_main(stdout);
		return fflush(stdout) == 0 ? CLI_OK : CLI_BAD_INPUT;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		help_version(stdout, "ckptfs");
		return fflush(stdout) == 0 ? CLI_OK : CLI_BAD_INPUT;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return run_subcommand(&subcommands[i], argc - 1, argv + 1);
	if (unknown_command(argc, argv))
		return CLI_BAD_INPUT;
	/* not a subcommand: the mount form, MAPPING MOUNTPOINT [options] */
	return cli_mount(argc, argv, "ckptfs");
}
