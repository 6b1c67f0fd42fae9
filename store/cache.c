/*
 * cache.c - the cache directory: per object a sparse DATA file as long as
 * the object and a MAP file (a header naming the object, then 16-byte
 * records of the ranges verified so far, appended), named by a hash of
 * the object's URL and version.
 *
 * Several processes share it: records are appended with one write each
 * (O_APPEND, so they never interleave) and only after the bytes they
 * name are written and verified; a process fetching a range holds an OFD
 * write lock on it, so two processes never write the same range at once
 * (the loser waits, then finds the winner's record). Creating and
 * evicting entries happens under a lock on the directory. Eviction
 * unlinks whole entries, least recently opened first: a process that
 * still has one open keeps reading its (now unnamed) files.
 */
#define _GNU_SOURCE /* O_TMPFILE, F_OFD_SETLK, fallocate */

#include "store/store_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

#define MAGIC "CKPTFSC1"

/* Two FNV-1a hashes of key, as 32 hex digits: a file name. */
static void entry_name(const char *key, char out[33])
{
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h1 = (h1 ^ *p) * 0x100000001b3ULL;
		h2 = (h2 ^ *p) * 0x100000001b3ULL;
		h2 ^= h2 >> 29;
	}
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

/* The directory lock, held while entries are created or evicted. */
static int lock_dir(const struct store *s)
{
	int fd = openat(s->dir_fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void unlock_dir(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* The header: MAGIC, the key's length (4 bytes), the key, zeros to a
 * multiple of 16. Its size in *hdr. */
static int write_header(int fd, const char *key, uint64_t *hdr)
{
	uint32_t kl = (uint32_t)strlen(key);
	size_t n = (12 + kl + 15) / 16 * 16;
	char *b = calloc(1, n);
	int rc;

	if (!b)
		return -ENOMEM;
	memcpy(b, MAGIC, 8);
	memcpy(b + 8, &kl, 4);
	memcpy(b + 12, key, kl);
	rc = util_pwrite_full(fd, b, n, 0); /* a new file: its start */
	free(b);
	*hdr = n;
	return rc;
}

/* 1 if fd's header names key (its size in *hdr), 0 if another, -errno. */
static int header_is(int fd, const char *key, uint64_t *hdr)
{
	uint32_t kl = (uint32_t)strlen(key), have;
	char head[12], *b;
	ssize_t got = util_pread_full(fd, head, 12, 0);
	int same;

	if (got < 12 || memcmp(head, MAGIC, 8))
		return got < 0 ? (int)got : 0;
	memcpy(&have, head + 8, 4);
	if (have != kl)
		return 0;
	b = malloc(kl + 1);
	if (!b)
		return -ENOMEM;
	same = util_pread_full(fd, b, kl, 12) == (ssize_t)kl && !memcmp(b, key, kl);
	free(b);
	*hdr = (12 + kl + 15) / 16 * 16;
	return same;
}

/* An entry only this process sees: the hash's slot holds another object. */
static int open_private(struct store *s, int64_t size, struct cache_entry *e)
{
	e->data_fd = openat(s->dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (e->data_fd < 0)
		return -errno;
	if (ftruncate(e->data_fd, size) < 0)
		return -errno;
	e->map_fd = -1;
	return 0;
}

/* Open MAP (new: header written) and DATA; *fresh when DATA is new. */
static int open_pair(struct store *s, const char *name, const char *key, int64_t size,
		     struct cache_entry *e)
{
	char path[64];
	struct stat st;
	int rc;

	snprintf(path, sizeof(path), "%s.map", name);
	e->map_fd = openat(s->dir_fd, path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (e->map_fd < 0 || fstat(e->map_fd, &st) < 0)
		return -errno;
	rc = st.st_size ? header_is(e->map_fd, key, &e->map_hdr)
			: write_header(e->map_fd, key, &e->map_hdr) == 0;
	if (rc <= 0)
		return rc == 0 ? 1 : rc; /* 1: another object's slot */
	snprintf(path, sizeof(path), "%s.data", name);
	e->data_fd = openat(s->dir_fd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (e->data_fd < 0 || fstat(e->data_fd, &st) < 0)
		return -errno;
	if (st.st_size != size) { /* new or damaged: no record holds */
		if (ftruncate(e->data_fd, 0) < 0 || ftruncate(e->data_fd, size) < 0 ||
		    ftruncate(e->map_fd, (off_t)e->map_hdr) < 0)
			return -errno;
	}
	e->map_pos = e->map_hdr;
	futimens(e->map_fd, NULL); /* least recently used goes first */
	e->data_path = malloc(strlen(s->cache_dir) + strlen(path) + 2);
	if (!e->data_path)
		return -ENOMEM;
	sprintf(e->data_path, "%s/%s", s->cache_dir, path);
	return 0;
}

int store_cache_open(struct store *s, const char *key, int64_t size, struct cache_entry *out,
		     char *err, size_t errlen)
{
	struct cache_entry e = { .data_fd = -1, .map_fd = -1 };
	char name[33];
	int lock = lock_dir(s), rc;

	if (lock < 0)
		return store_errf(err, errlen, -errno, "'%s': cannot lock the cache: %s",
				  s->cache_dir, strerror(errno));
	entry_name(key, name);
	rc = open_pair(s, name, key, size, &e);
	unlock_dir(lock);
	if (rc == 1) {
		store_cache_close(&e);
		e = (struct cache_entry){ .data_fd = -1, .map_fd = -1 };
		rc = open_private(s, size, &e);
	}
	if (rc) {
		store_cache_close(&e);
		return store_errf(err, errlen, rc, "'%s': cannot use the cache: %s", s->cache_dir,
				  strerror(-rc));
	}
	*out = e;
	return 0;
}

void store_cache_close(struct cache_entry *e)
{
	if (e->data_fd >= 0)
		close(e->data_fd);
	if (e->map_fd >= 0)
		close(e->map_fd);
	free(e->data_path);
	e->data_fd = e->map_fd = -1;
	e->data_path = NULL;
}

int store_cache_read_marks(struct cache_entry *e, void (*mark)(void *ctx, int64_t off, int64_t len),
			   void *ctx)
{
	int64_t rec[2 * 256];

	if (e->map_fd < 0)
		return 0;
	for (;;) {
		ssize_t got = util_pread_full(e->map_fd, rec, sizeof(rec), (int64_t)e->map_pos);
		size_t whole = got > 0 ? (size_t)got / 16 : 0;

		if (got < 0)
			return (int)got;
		for (size_t i = 0; i < whole; i++)
			mark(ctx, rec[2 * i], rec[2 * i + 1]);
		e->map_pos += whole * 16;
		if ((size_t)got < sizeof(rec))
			return 0; /* a torn last record is left for later */
	}
}

int store_cache_add_mark(struct cache_entry *e, int64_t off, int64_t len)
{
	int64_t rec[2] = { off, len };
	ssize_t w;

	if (e->map_fd < 0)
		return 0;
	w = write(e->map_fd, rec, sizeof(rec));
	return w == (ssize_t)sizeof(rec) ? 0 : w < 0 ? -errno : -EIO;
}

int store_cache_lock_ranges(const struct cache_entry *e, const int64_t (*ranges)[2], size_t n,
			    int64_t deadline_ms, int *lock_fd)
{
	int fd;

	*lock_fd = -1;
	if (!e->data_path)
		return 0; /* a private entry: nobody else writes it */
	fd = open(e->data_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0; /* evicted meanwhile: our fd's file is ours alone */
	for (size_t i = 0; i < n; i++) {
		struct flock fl = { .l_type = F_WRLCK,
				    .l_whence = SEEK_SET,
				    .l_start = ranges[i][0],
				    .l_len = ranges[i][1] };

		while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			if ((errno != EAGAIN && errno != EACCES) || store_now_ms() > deadline_ms) {
				close(fd);
				return -ETIMEDOUT;
			}
			nanosleep(&ts, NULL);
		}
	}
	*lock_fd = fd;
	return 0;
}

void store_cache_punch(const struct cache_entry *e, int64_t off, int64_t len)
{
	(void)fallocate(e->data_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
}

/* ------------------------------------------------------------ eviction */

struct victim {
	char name[33];
	struct timespec used;
	int64_t bytes;
	dev_t dev;
	ino_t ino;
};

static int older(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	return (x->used.tv_nsec > y->used.tv_nsec) - (x->used.tv_nsec < y->used.tv_nsec);
}

/* The entries of the directory and their disk use. */
static struct victim *list_entries(const struct store *s, size_t *n, int64_t *total)
{
	int fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct victim *v = NULL;
	size_t cap = 0;
	struct dirent *de;

	*n = 0;
	*total = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		struct stat ms, ds;
		char data[64];
		struct victim *g;

		if (l != 36 || strcmp(de->d_name + 32, ".map"))
			continue;
		snprintf(data, sizeof(data), "%.32s.data", de->d_name);
		if (fstatat(s->dir_fd, de->d_name, &ms, 0) < 0 ||
		    fstatat(s->dir_fd, data, &ds, 0) < 0)
			continue;
		g = util_grow(v, &cap, *n + 1, sizeof(*v));
		if (!g)
			break;
		v = g;
		memcpy(v[*n].name, de->d_name, 32);
		v[*n].name[32] = '\0';
		v[*n].used = ms.st_mtim;
		v[*n].bytes = (int64_t)ds.st_blocks * 512;
		v[*n].dev = ds.st_dev;
		v[*n].ino = ds.st_ino;
		*total += v[*n].bytes;
		(*n)++;
	}
	closedir(d);
	return v;
}

void store_cache_trim(struct store *s, const struct cache_entry *keep)
{
	struct stat ks = { 0 };
	struct victim *v;
	int64_t total;
	size_t n;
	int lock;

	if (keep->data_fd >= 0)
		fstat(keep->data_fd, &ks);
	lock = lock_dir(s);
	v = list_entries(s, &n, &total);
	if (v && total > s->cache_size) {
		qsort(v, n, sizeof(*v), older);
		for (size_t i = 0; i < n && total > s->cache_size; i++) {
			char path[64];

			if (v[i].dev == ks.st_dev && v[i].ino == ks.st_ino)
				continue;
			snprintf(path, sizeof(path), "%s.data", v[i].name);
			unlinkat(s->dir_fd, path, 0);
			snprintf(path, sizeof(path), "%s.map", v[i].name);
			unlinkat(s->dir_fd, path, 0);
			total -= v[i].bytes;
		}
	}
	free(v);
	unlock_dir(lock);
}
