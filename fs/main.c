/*
 * main.c - the ckptfs command: subcommands that inspect checkpoints and
 * mappings, and the mount form `ckptfs MAPPING MOUNTPOINT [-o OPTS]` (also
 * installed as mount.ckptfs, the shape mount(8) and mount.fuse3 call).
 */
#include <stdio.h>
#include <string.h>

#include "fs/cli.h"

static const char usage[] =
	"usage: ckptfs MAPPING MOUNTPOINT [-o OPTIONS] [-f] [-d] [-s]\n"
	"       ckptfs ls CHECKPOINT|MAPPING\n"
	"       ckptfs verify CHECKPOINT\n"
	"       ckptfs cat CHECKPOINT TENSOR\n"
	"       ckptfs check MAPPING\n"
	"       ckptfs materialize MAPPING OUT_PREFIX [--link] [--force]\n"
	"\n"
	"Mount a virtual TensorFlow checkpoint merged from others, without\n"
	"copying their data, or inspect checkpoints.\n"
	"\n"
	"  ls        list tensors: name, dtype, shape, shard, offset, size\n"
	"  verify    read every tensor and check its CRC32C\n"
	"  cat       write one tensor's stored bytes to stdout\n"
	"  check     resolve a mapping and summarize the merged checkpoint\n"
	"  materialize  write the merged checkpoint to disk (--link: index +\n"
	"            symlinks to the source shards, no data copied)\n"
	"\n"
	"Mounting builds the whole merged checkpoint first, then mounts it\n"
	"read-only and goes into the background (-f: stay in the foreground,\n"
	"-d: debug, -s: single-threaded). Options: -o prefix=NAME,\n"
	"-o layout=single|shards, -o max_read=N, and libfuse's own\n"
	"(allow_other, fsname=, ...); 'ckptfs MAPPING MOUNTPOINT --help'\n"
	"lists them all. Exit status: 0 ok, 1 bad input, 2 mount failed.\n"
	"\n"
	"CHECKPOINT is a prefix (PATH.index exists), a directory with a\n"
	"'checkpoint' state file, a SavedModel or its variables/ directory.\n"
	"Run 'ckptfs SUBCOMMAND --help' for details.\n";

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct subcommand subcommands[] = {
	{ "ls", cli_ls },
	{ "verify", cli_verify },
	{ "cat", cli_cat },
	{ "check", cli_check },
	{ "materialize", cli_materialize },
};

int cli_ls(int argc, char **argv)
{
	if (argc != 2) {
		cli_error("usage: ckptfs ls CHECKPOINT|MAPPING");
		return CLI_BAD_INPUT;
	}
	return cli_is_mapping(argv[1]) ? cli_ls_mapping(argv[1])
				       : cli_ls_checkpoint(argv[1]);
}

/* The name the command was run as, without its directory. */
static const char *progname(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	return slash ? slash + 1 : argv0;
}

int main(int argc, char **argv)
{
	/* mount(8) runs mount.ckptfs SOURCE DIR [-o OPTS]: always a mount */
	if (argc > 0 && !strcmp(progname(argv[0]), "mount.ckptfs"))
		return cli_mount(argc, argv, "mount.ckptfs");
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_BAD_INPUT : CLI_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("ckptfs %s\n", CKPTFS_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	/* not a subcommand: the mount form, MAPPING MOUNTPOINT [options] */
	return cli_mount(argc, argv, "ckptfs");
}
