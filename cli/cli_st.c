/*
 * cli_st.c - `ckptfs materialize --format safetensors`: write the view's
 * PREFIX.safetensors as a real file, OUT_PREFIX.safetensors, through a
 * temporary name renamed into place (never half a file under the name).
 */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "view/view.h"

#define CHUNK (4u << 20)

static long st_file(const struct view *v)
{
	for (size_t i = 0; i < view_num_files(v); i++)
		if (view_file_at(v, i)->kind == VIEW_FILE_SAFETENSORS)
			return (long)i;
	return -1;
}

/* Copy file i of v to fd; 0 or a negative errno. */
static int copy_out(const struct view *v, size_t i, int fd)
{
	uint64_t size = view_file_at(v, i)->size, off = 0;
	char *buf = malloc(CHUNK);
	int rc = buf ? 0 : -ENOMEM;

	while (rc == 0 && off < size) {
		int64_t got = view_read(v, i, off, CHUNK, buf);

		if (got <= 0)
			rc = got < 0 ? (int)got : -EIO;
		else if (write(fd, buf, (size_t)got) != got)
			rc = errno ? -errno : -EIO;
		else
			off += (uint64_t)got;
	}
	free(buf);
	return rc;
}

int cli_write_safetensors(const struct view *v, const char *out)
{
	long i = st_file(v);
	size_t n = strlen(out) + sizeof(".safetensors.tmpXXXXXX");
	char *path = malloc(n), *tmp = malloc(n);
	int fd = -1, rc = path && tmp && i >= 0 ? 0 : -ENOMEM;

	if (rc == 0) {
		snprintf(path, n, "%s.safetensors", out);
		snprintf(tmp, n, "%s.safetensors.tmpXXXXXX", out);
		fd = mkostemp(tmp, O_CLOEXEC);
		rc = fd < 0 ? -errno : 0;
	}
	if (rc == 0)
		rc = copy_out(v, (size_t)i, fd);
	if (rc == 0 && fchmod(fd, 0644)) /* as a checkpoint's files */
		rc = -errno;
	if (fd >= 0 && close(fd) && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path))
		rc = -errno;
	if (rc && fd >= 0)
		unlink(tmp);
	if (rc)
		cli_error("'%s': cannot write: %s", path ? path : out, strerror(-rc));
	free(path);
	free(tmp);
	return rc;
}
