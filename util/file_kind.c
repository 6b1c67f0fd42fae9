/*
 * file_kind.c - util_file_kind(): what a file that is not regular is, and
 * util_file_format(): what a regular one that is not ours is, for the
 * messages of the code that opens checkpoints and mapping files.
 */
#include "util/util.h"

#include <string.h>
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

const char *util_file_format(const void *head, size_t n)
{
	if (n >= 8 && !memcmp(head, "\x89HDF\r\n\x1a\n", 8))
		return "an HDF5 file (Keras 3 weights, as model.save_weights writes them)";
	if (n >= 4 && !memcmp(head, "PK\x03\x04", 4))
		return "a ZIP archive (a Keras 3 model, as model.save writes it)";
	return NULL;
}
