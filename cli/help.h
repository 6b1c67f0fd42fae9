/*
 * help.h - every help and usage text of the ckptfs command, in one place:
 * `ckptfs --help`, `ckptfs COMMAND --help`, the mount form's
 * `ckptfs MAPPING MOUNTPOINT --help` (= `mount.ckptfs --help`), --version,
 * and the usage errors. The man pages ckptfs(1) and mount.ckptfs(8) are
 * generated from this output at build time (docs/man/mkman.cmake, with
 * help2man), so they cannot drift from it; tests/integration/test_docs.py
 * checks that every option here is in the man pages and vice versa.
 */
#ifndef CKPTFS_CLI_HELP_H
#define CKPTFS_CLI_HELP_H

#include <stdio.h>

/* A subcommand's name, arguments and options, as --help shows them. */
struct help_command {
	const char *name;           /* "ls" */
	const char *const *args;    /* positional arguments, NULL-terminated */
	const char *const *options; /* accepted options, NULL-terminated */
	const char *text;           /* its --help text */
};

/* The subcommand called name, or NULL. */
const struct help_command *help_find(const char *name);

/* The subcommand name is closest to (a typo of), or NULL. */
const char *help_suggest(const char *name);

/* `ckptfs --help` to f. */
void help_main(FILE *f);

/* `ckptfs` without arguments: the synopsis and where to look, to f. */
void help_short(FILE *f);

/* `ckptfs COMMAND --help` to f. */
void help_command(FILE *f, const struct help_command *c);

/* The mount form's --help, for progname "ckptfs" or "mount.ckptfs". */
void help_mount(FILE *f, const char *progname);

/* --version of progname ("ckptfs" or "mount.ckptfs"), first line only. */
void help_version(FILE *f, const char *progname);

/*
 * A usage error of subcommand c (NULL: the mount form of progname):
 * "ckptfs: [COMMAND: ]MESSAGE", its usage line and where the help is, on
 * stderr. Returns 1, the exit status for bad input.
 */
__attribute__((format(printf, 3, 4))) int
help_usage_error(const struct help_command *c, const char *progname, const char *fmt, ...);

/*
 * Check the arguments of subcommand c (argv[0] is its name) before it
 * runs: --help or -h prints its help (returns 0); an unknown option, a
 * missing or an extra argument is a usage error (returns 1). A `--` ends
 * the options and is removed from argv and *argc. Returns -1 when the
 * command may run.
 */
int help_check_args(const struct help_command *c, int *argc, char **argv);

#endif
