/*
 * cli_st.c - `ckptfs materialize --format safetensors`: write the view's
 * PREFIX.safetensors as a real file, OUT_PREFIX.safetensors, through a
 * temporary name renamed into place (never half a file under the name);
 * and `ckptfs ls FILE.safetensors`, through safetensors_parse's strict checks.
 */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors/safetensors.h"
#include "util/util.h"
#include "view/view.h"

#define CHUNK (4u << 20)

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

/* File i of v as path, through a temporary file renamed into place. */
static int write_as(const struct view *v, size_t i, const char *path)
{
	size_t n = strlen(path) + sizeof(".tmpXXXXXX");
	char *tmp = malloc(n);
	int fd = -1, rc = tmp ? 0 : -ENOMEM;

	if (rc == 0) {
		snprintf(tmp, n, "%s.tmpXXXXXX", path);
		fd = mkostemp(tmp, O_CLOEXEC);
		rc = fd < 0 ? -errno : 0;
	}
	if (rc == 0)
		rc = copy_out(v, i, fd);
	if (rc == 0 && fchmod(fd, 0644)) /* as a checkpoint's files */
		rc = -errno;
	if (fd >= 0 && close(fd) && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path))
		rc = -errno;
	if (rc && fd >= 0)
		unlink(tmp);
	if (rc)
		cli_error("'%s': cannot write: %s", path, strerror(-rc));
	free(tmp);
	return rc;
}

int cli_write_files(const struct view *v, const char *dir, int st)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < view_num_files(v); i++) {
		const struct view_file *f = view_file_at(v, i);
		size_t n = strlen(dir) + strlen(f->name) + 2;
		char *path;

		if (f->kind != VIEW_FILE_META && !(st && f->kind == VIEW_FILE_SAFETENSORS))
			continue;
		path = malloc(n);
		if (!path) {
			cli_error("out of memory");
			return -ENOMEM;
		}
		snprintf(path, n, "%s/%s", dir, f->name);
		rc = write_as(v, i, path);
		free(path);
	}
	return rc;
}

static int read_header(const char *path, int fd, uint8_t **json, uint64_t *n, uint64_t *size)
{
	struct stat st;
	uint8_t len[8];
	char err[256];

	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		cli_error("'%s': not a regular file", path);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	if (util_pread_full(fd, len, 8, 0) != 8) {
		cli_error("'%s': not a safetensors file (shorter than 8 bytes)", path);
		return -1;
	}
	/* the length alone decides: nothing is allocated for a bad one */
	if (safetensors_header_len(len, *size, n, err, sizeof(err))) {
		cli_error("'%s': %s", path, err);
		return -1;
	}
	*json = malloc(*n ? *n : 1);
	if (!*json || util_pread_full(fd, *json, *n, 8) != (ssize_t)*n) {
		cli_error("'%s': cannot read the header", path);
		free(*json);
		return -1;
	}
	return 0;
}

int cli_ls_safetensors(const char *path, int as_json)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct safetensors_header *h = NULL;
	uint8_t *json = NULL;
	uint64_t n = 0, size = 0;
	struct cli_list l;
	char err[512];
	int rc;

	if (fd < 0) {
		cli_error("'%s': %s", path, strerror(errno));
		return CLI_BAD_INPUT;
	}
	if (read_header(path, fd, &json, &n, &size) == 0 &&
	    safetensors_parse(json, n, size - 8 - n, &h, err, sizeof(err)))
		cli_error("'%s': %s", path, err);
	close(fd);
	free(json);
	if (!h)
		return CLI_BAD_INPUT;
	cli_list_begin(&l, as_json, 0);
	for (size_t i = 0; i < h->n; i++) {
		const struct safetensors_tensor *t = &h->t[i];
		/* dims are <= INT64_MAX (the parser checked): same bits */
		struct bundle_entry e = { .dtype = t->dtype,
					  .rank = t->rank,
					  .dims = (int64_t *)t->dims,
					  .shard_id = 0,
					  .offset = (int64_t)(8 + n + t->begin),
					  .size = (int64_t)(t->end - t->begin) };

		cli_list_entry(&l, t->name, t->name_len, &e, NULL, NULL, 0);
	}
	rc = cli_list_end(&l);
	safetensors_header_free(h);
	return rc;
}
