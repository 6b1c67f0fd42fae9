/*
 * openfile.c - open one file of a checkpoint (its index, a data shard, a
 * directory's `checkpoint` state file): regular files only, without ever
 * blocking in open(), and with BUNDLE_OPEN_PUBLIC only files that every
 * user could read for themselves.
 *
 * Why the last rule: a mount with allow_other shows the sources' bytes to
 * every user, but the daemon usually runs as root. Whoever may write a
 * source directory could otherwise put a symlink to a file only root may
 * read (or a `checkpoint` file naming root's private checkpoint) in a
 * source's place, and read it through the mount. The check is made on the
 * opened fd and on the directories the file really lies in, so there is no
 * window between checking and opening.
 */
#define _GNU_SOURCE /* O_PATH */

#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/internal.h"
#include "util/util.h"

/* Where the kernel says fd lies ("/a/b/file"); 0 or -errno. */
static int real_path(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	/* not a path from the root: a deleted file, another mount namespace */
	return buf[0] == '/' ? 0 : -ENOENT;
}

/* " (really '/x/y')" when the file is not where path says, else "". */
static void really(const char *path, const char *real, char *buf, size_t len)
{
	if (strcmp(path, real))
		snprintf(buf, len, " (really '%s')", real);
	else
		buf[0] = '\0';
}

/*
 * Walk the real path from "/" without following symlinks and check that
 * every directory on it lets every user through (S_IXOTH), and that the
 * name at its end still is the opened file (st). 0 or -errno with a
 * message.
 */
static int check_dirs(const char *path, const char *what, const struct stat *st, char *real,
		      char *err, size_t errlen)
{
	char shown[PATH_MAX + 16];
	struct stat ds, fs;
	int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), rc = 0;
	char *name = real + 1, *slash;

	really(path, real, shown, sizeof(shown));
	if (dir < 0)
		return bundle_errf(err, errlen, -errno,
				   "'%s': cannot check that every user may read this %s: %s", path,
				   what, strerror(errno));
	for (;;) {
		if (fstat(dir, &ds) < 0) {
			rc = -errno;
			break;
		}
		if (!(ds.st_mode & S_IXOTH)) {
			/* name - 1 is the slash after this directory */
			char save = name[-1];

			name[-1] = '\0';
			rc = bundle_errf(
				err, errlen, -EACCES,
				"'%s'%s: this %s is in '%s', which not every user may enter (mode %04o), and allow_other would show it to all: chmod o+x '%s', or mount without allow_other",
				path, shown, what, *real ? real : "/",
				(unsigned)(ds.st_mode & 07777), *real ? real : "/");
			name[-1] = save;
			close(dir);
			return rc;
		}
		slash = strchr(name, '/');
		if (!slash)
			break;
		*slash = '\0';
		rc = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		if (rc < 0) {
			rc = -errno;
			break;
		}
		close(dir);
		dir = rc;
		rc = 0;
		name = slash + 1;
	}
	if (rc == 0 && fstatat(dir, name, &fs, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	close(dir);
	if (rc)
		return bundle_errf(err, errlen, rc,
				   "'%s': cannot check that every user may read this %s: %s", path,
				   what, strerror(-rc));
	if (fs.st_dev != st->st_dev || fs.st_ino != st->st_ino)
		return bundle_errf(
			err, errlen, -EAGAIN,
			"'%s': this %s was moved or replaced while being opened: try again", path,
			what);
	return 0;
}

/* BUNDLE_OPEN_PUBLIC: could every user read the file fd (st) directly? */
static int check_public(int fd, const struct stat *st, const char *path, const char *what,
			char *err, size_t errlen)
{
	char real[PATH_MAX], shown[PATH_MAX + 16];
	int rc = real_path(fd, real, sizeof(real));

	if (rc)
		return bundle_errf(err, errlen, rc,
				   "'%s': cannot check that every user may read this %s: %s", path,
				   what, strerror(-rc));
	really(path, real, shown, sizeof(shown));
	if (!(st->st_mode & S_IROTH))
		return bundle_errf(
			err, errlen, -EACCES,
			"'%s'%s: this %s is not readable by every user (mode %04o), and allow_other would show it to all: chmod o+r '%s', or mount without allow_other",
			path, shown, what, (unsigned)(st->st_mode & 07777), real);
	return check_dirs(path, what, st, real, err, errlen);
}

int bundle_open_file(const char *path, const char *what, unsigned flags, int64_t *size, char *err,
		     size_t errlen)
{
	/* O_NONBLOCK: a FIFO in a file's place must not hang us in open() */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), rc;
	struct stat st;

	if (fd < 0)
		return bundle_errf(err, errlen, -errno, "'%s': cannot open %s: %s", path, what,
				   strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return bundle_errf(err, errlen, rc, "'%s': cannot stat %s: %s", path, what,
				   strerror(-rc));
	}
	if (!S_ISREG(st.st_mode)) {
		const char *kind = util_file_kind(st.st_mode);

		close(fd);
		return bundle_errf(err, errlen, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
				   "'%s': cannot open %s: not a regular file%s%s%s", path, what,
				   kind ? " (" : "", kind ? kind : "", kind ? ")" : "");
	}
	if (flags & BUNDLE_OPEN_PUBLIC) {
		rc = check_public(fd, &st, path, what, err, errlen);
		if (rc) {
			close(fd);
			return rc;
		}
	}
	/* reads of a regular file never block; clear it for plain semantics */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		rc = -errno;
		close(fd);
		return bundle_errf(err, errlen, rc, "'%s': cannot open %s: %s", path, what,
				   strerror(-rc));
	}
	*size = st.st_size;
	return fd;
}
