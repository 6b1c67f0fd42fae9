/*
 * io.c - reads and writes that finish: pread, read and pwrite loops that
 * retry EINTR and short counts, so callers see "all of it", "end of file"
 * or an error.
 */
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

ssize_t util_pread_full(int fd, void *buf, size_t len, int64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + (int64_t)got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int util_pwrite_full(int fd, const void *buf, size_t len, int64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + (int64_t)done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

int util_read_all(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL, *p;
	ssize_t r;

	for (;;) {
		/* one byte past max tells "exactly max" from "more" */
		if (n == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			p = util_grow(buf, &cap, cap < 4096 ? 4096 : cap + 1, 1);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		free(buf);
		return -EFBIG;
	}
	if (n == cap) {
		p = realloc(buf, n + 1);
		if (!p) {
			free(buf);
			return -ENOMEM;
		}
		buf = p;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}
