/*
 * cli_tfplugin.c - `ckptfs tf-plugin`: where the TensorFlow plugin of this
 * ckptfs is. Found relative to the running binary, never through a path
 * compiled in, so a build tree, a `cmake --install` under any prefix and
 * the relocated .deb all answer with their own library.
 */
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#ifndef CKPTFS_TF_PLUGIN_FILE
#define CKPTFS_TF_PLUGIN_FILE "libckptfs_tf.so"
#endif
#ifndef CKPTFS_TF_PLUGIN_RELDIR
#define CKPTFS_TF_PLUGIN_RELDIR "../lib/ckptfs"
#endif

/* dir/rel/name resolved into out (PATH_MAX); 0 if it is a file there. */
static int found(char *out, const char *dir, const char *rel, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s%s%s/%s", dir, *rel ? "/" : "", rel, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!realpath(path, out))
		return -errno;
	return access(out, R_OK) ? -errno : 0;
}

int cli_tf_plugin(int argc, char **argv)
{
	char exe[PATH_MAX], lib[PATH_MAX], *slash;

	(void)argc;
	(void)argv;
#ifndef CKPTFS_HAVE_TF_PLUGIN
	cli_error("this ckptfs was built without the TensorFlow plugin "
		  "(configure with -DCKPTFS_TF_PLUGIN=ON and TensorFlow installed)");
	return CLI_BAD_INPUT;
#endif
	if (!realpath("/proc/self/exe", exe) || !(slash = strrchr(exe, '/'))) {
		cli_error("cannot find the ckptfs binary: %s", strerror(errno));
		return CLI_BAD_INPUT;
	}
	*slash = '\0';
	/* the build tree's library sits next to build/ckptfs */
	if (found(lib, exe, "", CKPTFS_TF_PLUGIN_FILE) == 0 ||
	    found(lib, exe, CKPTFS_TF_PLUGIN_RELDIR, CKPTFS_TF_PLUGIN_FILE) == 0) {
		cli_put_text(stdout, lib);
		putchar('\n');
		return fflush(stdout) == 0 ? CLI_OK : CLI_BAD_INPUT;
	}
	cli_error("the TensorFlow plugin is missing: no '%s/%s/%s'", exe, CKPTFS_TF_PLUGIN_RELDIR,
		  CKPTFS_TF_PLUGIN_FILE);
	return CLI_BAD_INPUT;
}
