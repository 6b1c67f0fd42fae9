/*
 * resolve.c - from what a user types to a checkpoint prefix: a prefix, a
 * checkpoint directory (its `checkpoint` state file), a SavedModel, or a
 * SavedModel's variables/ directory (docs/checkpoint-format.md §1, §8).
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/internal.h"
#include "util/util.h"

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int slash = la && a[la - 1] != '/';
	char *s = malloc(la + slash + lb + 1);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	if (slash)
		s[la] = '/';
	memcpy(s + la + slash, b, lb + 1);
	return s;
}

/*
 * Whether PREFIX.index exists: 1, 0 when it does not (ENOENT, ENOTDIR), or
 * a negative errno when that cannot be told (EACCES, ELOOP...): saying
 * "does not exist" about a file one may not see sends people looking in
 * the wrong place.
 */
static int has_index(const char *prefix)
{
	char *p = malloc(strlen(prefix) + sizeof(".index"));
	struct stat st;
	int rc;

	if (!p)
		return -ENOMEM;
	strcpy(p, prefix);
	strcat(p, ".index");
	rc = stat(p, &st) == 0 ? 1 : errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	free(p);
	return rc;
}

/* The message for has_index(prefix) < 0, met while resolving path. */
static int cannot_access(const char *path, const char *prefix, int rc, char *err, size_t errlen)
{
	if (rc == -ENOMEM)
		return bundle_errf(err, errlen, rc, "out of memory");
	return bundle_errf(err, errlen, rc, "'%s': cannot access '%s.index': %s", path, prefix,
			   strerror(-rc));
}

/* Undo text-format C escapes in place (\" \\ \' \n \t \r \ooo \xHH). */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s != '\\' || !s[1]) {
			*w++ = *s;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': *w++ = '\n'; break;
		case 't': *w++ = '\t'; break;
		case 'r': *w++ = '\r'; break;
		case 'x':
			*w++ = (char)strtol((char[3]){ s[1], s[1] ? s[2] : 0, 0 }, NULL, 16);
			s += s[1] ? (s[2] ? 2 : 1) : 0;
			break;
		default:
			if (*s >= '0' && *s <= '7') {
				int v = 0, k = 0;

				for (; k < 3 && s[k] >= '0' && s[k] <= '7'; k++)
					v = v * 8 + (s[k] - '0');
				*w++ = (char)v;
				s += k - 1;
			} else {
				*w++ = *s;
			}
		}
	}
	*w = '\0';
}

/*
 * TensorFlow's state files are a few lines; the cap keeps a `checkpoint`
 * that is something else (a huge or sparse file) from eating memory.
 */
#define STATE_FILE_MAX ((size_t)1 << 20)

char *bundle_parse_state(const char *dir, char *text, size_t len)
{
	static const char field[] = "model_checkpoint_path:";
	char *line = text, *const lim = text + len, *res = NULL;

	for (; !res && line < lim; line++) {
		char *nl = memchr(line, '\n', (size_t)(lim - line)), *p, *q, *end;

		if (nl)
			*nl = '\0';
		else
			nl = lim;
		p = line + strspn(line, " \t");
		if (!strncmp(p, field, sizeof(field) - 1)) {
			p += sizeof(field) - 1;
			q = strchr(p, '"');
			end = q ? strrchr(q + 1, '"') : NULL;
			if (end && end != q) {
				*end = '\0';
				unescape(q + 1);
				if (q[1])
					res = q[1] == '/' ? strdup(q + 1) : join(dir, q + 1);
			}
		}
		line = nl;
	}
	return res;
}

/*
 * The prefix DIR/checkpoint names: 0 with *out set, or NULL when there is
 * no state file or it names nothing; a negative errno with a message when
 * the state file is there but cannot be used (not a regular file, no
 * permission, too large, not public enough for flags).
 */
static int state_file_path(const char *dir, unsigned flags, char **out, char *err, size_t errlen)
{
	static const char what[] = "'checkpoint' state file";
	char *file = join(dir, "checkpoint"), *text = NULL;
	size_t len = 0;
	int64_t size;
	int fd, rc;

	*out = NULL;
	if (!file)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	fd = bundle_open_file(file, what, flags, &size, err, errlen);
	if (fd < 0) {
		free(file);
		return fd == -ENOENT ? 0 : fd;
	}
	rc = util_read_all(fd, STATE_FILE_MAX, &text, &len);
	close(fd);
	if (rc == -EFBIG)
		rc = bundle_errf(
			err, errlen, rc,
			"'%s': %s is larger than %zu MiB: not a TensorFlow state file (those are a few lines)",
			file, what, STATE_FILE_MAX >> 20);
	else if (rc)
		rc = bundle_errf(err, errlen, rc, "'%s': cannot read %s: %s", file, what,
				 strerror(-rc));
	free(file);
	if (rc)
		return rc;
	/* a NULL from strdup/join (no memory) reads as "names nothing" */
	*out = bundle_parse_state(dir, text, len);
	free(text);
	return 0;
}

/*
 * The prefix a directory holds: its state file's, else a SavedModel's.
 * 0 with *out set (NULL: none found), or a negative errno with a message.
 */
static int try_dir(const char *path, unsigned flags, char **out, char *err, size_t errlen)
{
	static const char *const saved[] = { "variables/variables", "variables" };
	char *p;
	int rc = state_file_path(path, flags, &p, err, errlen);

	for (size_t i = 0; rc == 0 && i <= ARRAY_SIZE(saved); i++) {
		if (i > 0 && !(p = join(path, saved[i - 1])))
			return bundle_errf(err, errlen, -ENOMEM, "out of memory");
		if (!p)
			continue; /* no state file */
		rc = has_index(p);
		if (rc == 1) {
			*out = p;
			return 0;
		}
		if (rc < 0)
			rc = cannot_access(path, p, rc, err, errlen);
		free(p);
	}
	if (rc == 0)
		*out = NULL;
	return rc;
}

/*
 * path is no checkpoint: the message, naming what path is when it is a
 * file people take for one (Keras 3 weights). The file is opened as a
 * checkpoint's files are (flags), so nothing is learnt of a file one could
 * not read.
 */
static int not_a_checkpoint(const char *path, unsigned flags, char *err, size_t errlen)
{
	const char *what = NULL;
	uint8_t head[8];
	int64_t size;
	int fd = bundle_open_file(path, "file", flags, &size, NULL, 0);

	if (fd >= 0) {
		if (util_pread_full(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head))
			what = util_file_format(head, sizeof(head));
		close(fd);
	}
	if (what)
		return bundle_errf(
			err, errlen, -ENOENT,
			"'%s' is %s, not a TensorFlow checkpoint: tf.train.Checkpoint(model=model).write(PATH) saves one ckptfs reads",
			path, what);
	return bundle_errf(err, errlen, -ENOENT,
			   "'%s': not a checkpoint ('%s.index' does not exist)", path, path);
}

int bundle_resolve_prefix_flags(const char *path, unsigned flags, char **prefix_out, char *err,
				size_t errlen)
{
	struct stat st;
	char *p = NULL;
	int rc = has_index(path), is_dir = 0;

	if (rc < 0)
		return cannot_access(path, path, rc, err, errlen);
	if (rc == 0) {
		if (stat(path, &st) == 0)
			is_dir = S_ISDIR(st.st_mode);
		else if (errno != ENOENT && errno != ENOTDIR)
			return bundle_errf(err, errlen, -errno, "'%s': cannot access: %s", path,
					   strerror(errno));
	}
	if (rc == 1) {
		p = strdup(path);
	} else if (is_dir) {
		rc = try_dir(path, flags, &p, err, errlen);
		if (rc)
			return rc;
		if (!p)
			return bundle_errf(
				err, errlen, -ENOENT,
				"'%s': no checkpoint here (no 'checkpoint' state file naming an existing prefix, no variables/variables.index)",
				path);
	} else {
		return not_a_checkpoint(path, flags, err, errlen);
	}
	if (!p)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	*prefix_out = p;
	return 0;
}

int bundle_resolve_prefix(const char *path, char **prefix_out, char *err, size_t errlen)
{
	return bundle_resolve_prefix_flags(path, 0, prefix_out, err, errlen);
}
