/*
 * file_kind.c - util_file_kind(): what a file that is not regular is, for
 * the messages of the code that opens checkpoints and mapping files.
 */
#include "util/util.h"

#include <sys/stat.h>

const char *util_file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return NULL;
}
