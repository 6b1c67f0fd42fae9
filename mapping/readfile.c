/*
 * readfile.c - mapping_parse_file(): read a mapping file into memory and
 * hand it to mapping_parse_buffer() with the file's directory as the base
 * of relative source paths. The only file system access of this module.
 */
#include "mapping/mapping.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A mapping file is a few lines per source; the cap only keeps a wrong
 * path (a device, a huge file) from eating memory.
 */
#define MAX_MAPPING_FILE_SIZE ((size_t)16 << 20)

/* strerror() into a caller's buffer: strerror() itself is not thread-safe. */
static void errno_text(int e, char *buf, size_t len)
{
#ifdef _GNU_SOURCE
	const char *s = strerror_r(e, buf, len);

	if (s != buf)
		snprintf(buf, len, "%s", s);
#else
	if (strerror_r(e, buf, len))
		snprintf(buf, len, "error %d", e);
#endif
}

static int cannot_read(const char *path, int e, char *err, size_t errlen)
{
	const struct mapping_pos pos = { path, 0, 0 };
	char text[128];

	errno_text(e, text, sizeof(text));
	return mapping_diag(err, errlen, -e, &pos, "error", "cannot read: %s", text);
}

/*
 * Open path for reading if it is a regular file. O_NONBLOCK so that a
 * FIFO cannot hang us in open() (nor a device with side effects be read);
 * a directory keeps its familiar "Is a directory". fd or -errno.
 */
static int open_regular(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), e;
	struct stat st;

	if (fd < 0)
		return cannot_read(path, errno, err, errlen);
	e = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
	if (e) {
		close(fd);
		return cannot_read(path, e, err, errlen);
	}
	if (!S_ISREG(st.st_mode)) {
		const struct mapping_pos pos = { path, 0, 0 };
		const char *kind = util_file_kind(st.st_mode);

		close(fd);
		return mapping_diag(err, errlen, -EINVAL, &pos, "error",
				    "cannot read: not a regular file (%s)",
				    kind ? kind : "not a regular file");
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		e = errno;
		close(fd);
		return cannot_read(path, e, err, errlen);
	}
	return fd;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	int fd, e;

	fd = open_regular(path, err, errlen);
	if (fd < 0)
		return fd;
	/* "under MAX_MAPPING_FILE_SIZE" */
	e = -util_read_all(fd, MAX_MAPPING_FILE_SIZE - 1, buf, len);
	close(fd);
	if (e == EFBIG) {
		const struct mapping_pos pos = { path, 0, 0 };

		return mapping_diag(err, errlen, -EFBIG, &pos, "error",
				    "file too large (a mapping file must be under %zu MiB)",
				    MAX_MAPPING_FILE_SIZE >> 20);
	}
	if (e)
		return cannot_read(path, e, err, errlen);
	return 0;
}

/*
 * The directory part of path, for relative source paths: NULL when path
 * has no '/', as those are already relative to the current directory.
 */
static int dir_of(const char *path, char **out)
{
	const char *slash = strrchr(path, '/');

	*out = NULL;
	if (!slash)
		return 0;
	*out = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	return *out ? 0 : -ENOMEM;
}

int mapping_parse_file(const char *path, struct mapping **out, char *err, size_t errlen)
{
	const struct mapping_pos pos = { path, 0, 0 };
	char *buf = NULL, *dir = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = read_file(path, &buf, &len, err, errlen);
	if (rc)
		return rc;
	if (dir_of(path, &dir))
		rc = mapping_diag(err, errlen, -ENOMEM, &pos, "error", "out of memory");
	else
		rc = mapping_parse_buffer(path, buf, len, dir, out, err, errlen);
	free(buf);
	free(dir);
	return rc;
}
