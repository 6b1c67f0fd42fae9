/*
 * ops.c - the FUSE low-level operations of ckptfs: a flat, read-only root
 * directory whose files come from an immutable view (view/view.h).
 *
 * `checkpoint` and PREFIX.index are served from the view's memory; reads
 * of PREFIX.data-* are translated into ranges of the source shards and
 * handed to the kernel as an fd bufvec, so the bytes are spliced from the
 * sources' page cache into /dev/fuse without a copy in user space (into
 * the FUSE page cache, or with direct I/O straight into the reader's
 * buffer: cache.c). Every operation that would change the tree answers
 * EROFS.
 *
 * Because the view never changes, inode numbers are fixed (root 1, file i
 * is i + 2), `forget` has nothing to count, and every entry, attribute and
 * page may be cached by the kernel for as long as it likes.
 */
#define FUSE_USE_VERSION 34

#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "fs/cache.h"
#include "fs/passthrough.h"
#include "fs/uring.h"
#include "view/view.h"

#define FIRST_FILE_INO 2
/* Nothing ever changes under the mount: let the kernel cache for a day. */
#define CACHE_TIMEOUT 86400.0
/* Unit of statfs block counts (f_frsize). */
#define STATFS_BLOCK 4096

static struct ckptfs *ckptfs_data(fuse_req_t req) { return fuse_req_userdata(req); }

/* The view file behind ino and its index, or NULL for the root or junk. */
static const struct view_file *file_of(const struct ckptfs *fs, fuse_ino_t ino, size_t *idx)
{
	if (ino < FIRST_FILE_INO || ino - FIRST_FILE_INO >= view_num_files(fs->view))
		return NULL;
	*idx = (size_t)(ino - FIRST_FILE_INO);
	return view_file_at(fs->view, *idx);
}

/* Largest power of two <= n (n >= 1): st_blksize must be one. */
static unsigned pow2_floor(unsigned n)
{
	unsigned p = 1;

	while (p <= n / 2)
		p *= 2;
	return p;
}

/* Attributes of ino; 0 or ENOENT. */
static int do_stat(const struct ckptfs *fs, fuse_ino_t ino, struct stat *st)
{
	const struct view_file *f = NULL;
	size_t idx;

	if (ino != FUSE_ROOT_ID && !(f = file_of(fs, ino, &idx)))
		return ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_atim = st->st_mtim = st->st_ctim = fs->time;
	/* stdio and cp size their buffers by this: one request's worth */
	st->st_blksize = pow2_floor(fs->max_read);
	if (!f) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)f->size;
	st->st_blocks = (blkcnt_t)((f->size + 511) / 512);
	return 0;
}

/* ------------------------------------------------------------ lifecycle */

static void ckptfs_ll_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ckptfs *fs = userdata;

	/* Off by default in libfuse 3.14: without it every reply is copied. */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	/* Must equal -o max_read, or libfuse fails the mount with EPROTO. */
	conn->max_read = fs->max_read;
	/* session.c raised the bdi's window; the kernel keeps min(window, this) */
	if (fs->max_readahead)
		conn->max_readahead = fs->max_readahead;
	/*
	 * The kernel's max_pages is derived from max_write and also bounds
	 * whole-folio reads, which max_read alone does not; nothing is ever
	 * written here, so tie it to the read size.
	 */
	if (conn->max_write > fs->max_read)
		conn->max_write = fs->max_read;
	pt_negotiate(fs, conn);
	cache_negotiate(fs, conn);
	uring_negotiate(fs, conn);
}

/* ------------------------------------------------------------ the tree */

static void ckptfs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct ckptfs *fs = ckptfs_data(req);
	struct fuse_entry_param e;
	long i;

	uring_note_request(req, ckptfs_data(req));
	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	memset(&e, 0, sizeof(e));
	/* ino 0 caches the absence too: probes for missing files are common */
	e.entry_timeout = fs->timeout;
	e.attr_timeout = fs->timeout;
	i = view_lookup(fs->view, name);
	if (i >= 0) {
		e.ino = (fuse_ino_t)i + FIRST_FILE_INO;
		do_stat(fs, e.ino, &e.attr);
	}
	fuse_reply_entry(req, &e);
}

static void ckptfs_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	(void)ino, (void)n;
	fuse_reply_none(req);
}

static void ckptfs_ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count, (void)forgets;
	fuse_reply_none(req);
}

static void ckptfs_ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct ckptfs *fs = ckptfs_data(req);
	struct stat st;
	int err = do_stat(fs, ino, &st);

	(void)fi;
	uring_note_request(req, ckptfs_data(req));
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

static void ckptfs_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	/* The listing never changes: let the kernel keep it. */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/*
 * Add directory entry k ("." is 0, ".." 1, file i is i + 2, which is also
 * its inode) to buf; returns the size it needs, as fuse_add_direntry does.
 * Its offset is k + 1: where a reader that got it resumes.
 */
static size_t add_dirent(fuse_req_t req, const struct ckptfs *fs, char *buf, size_t size, size_t k)
{
	struct stat st;
	const char *name = k == 0 ? "." : "..";

	memset(&st, 0, sizeof(st));
	st.st_ino = k < FIRST_FILE_INO ? FUSE_ROOT_ID : k;
	st.st_mode = k < FIRST_FILE_INO ? S_IFDIR : S_IFREG;
	if (k >= FIRST_FILE_INO)
		name = view_file_at(fs->view, k - FIRST_FILE_INO)->name;
	return fuse_add_direntry(req, buf, size, name, &st, (off_t)k + 1);
}

static void ckptfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			      struct fuse_file_info *fi)
{
	const struct ckptfs *fs = ckptfs_data(req);
	size_t n = view_num_files(fs->view) + FIRST_FILE_INO, used = 0;
	char buf[4096]; /* what the kernel asks for; names are <= NAME_MAX */

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (size_t k = off < 0 ? n : (size_t)off; k < n; k++) {
		size_t len = add_dirent(req, fs, buf + used, size - used, k);

		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
}

static void ckptfs_ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	const struct ckptfs *fs = ckptfs_data(req);
	size_t n = view_num_files(fs->view);
	uint64_t bytes = 0;
	struct statvfs sv;

	(void)ino;
	for (size_t i = 0; i < n; i++)
		bytes += view_file_at(fs->view, i)->size;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = pow2_floor(fs->max_read);
	sv.f_frsize = STATFS_BLOCK;
	sv.f_blocks = (fsblkcnt_t)((bytes + STATFS_BLOCK - 1) / STATFS_BLOCK);
	sv.f_files = (fsfilcnt_t)n + 1;
	sv.f_namemax = NAME_MAX;
	sv.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

static void ckptfs_ll_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	const struct ckptfs *fs = ckptfs_data(req);
	size_t idx;
	int err = 0;

	if (ino != FUSE_ROOT_ID && !file_of(fs, ino, &idx))
		err = ENOENT;
	else if (mask & W_OK)
		err = EROFS;
	else if ((mask & X_OK) && ino != FUSE_ROOT_ID)
		err = EACCES; /* files are 0444 */
	fuse_reply_err(req, err);
}

static void ckptfs_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino, (void)name, (void)size;
	fuse_reply_err(req, ENODATA);
}

static void ckptfs_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

/* ------------------------------------------------------------ files */

static void ckptfs_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ckptfs *fs = ckptfs_data(req);
	size_t idx;

	if (!file_of(fs, ino, &idx)) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* Content is immutable: pages cached by one open serve the next. */
	fi->keep_cache = 1;
	fi->noflush = 1;
	/* a shard whole: the kernel may read it itself (sets fi's backing id) */
	if (!pt_open(req, fs, idx, fi))
		cache_open(fs, idx, fi);
	/* a remote merge's file: its reads are read ahead (NULL: they are not) */
	fi->fh = 0;
	if (view_is_remote(fs->view) && view_file_is_extents(view_file_at(fs->view, idx)))
		fi->fh = (uint64_t)(uintptr_t)calloc(1, sizeof(struct view_readahead));
	fuse_reply_open(req, fi);
}

static void ckptfs_ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	free((void *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Reply err to a failed read of file idx, saying why once per file. */
static void reply_read_error(fuse_req_t req, struct ckptfs *fs, size_t idx, int err)
{
	if (!atomic_exchange(&fs->logged[idx], true)) {
		const char *name = view_file_at(fs->view, idx)->name;

		errno = err;
		fuse_log(FUSE_LOG_ERR, "ckptfs: reading '%s' failed: %m%s\n", name,
			 err == EIO ? " (a source shard was changed after mounting?)" : "");
	}
	fuse_reply_err(req, err);
}

struct thread_buf {
	size_t cap;
	unsigned char data[];
};

/* The calling thread's copy buffer, at least size bytes; NULL if no memory. */
static void *thread_buffer(const struct ckptfs *fs, size_t size)
{
	struct thread_buf *b = pthread_getspecific(fs->buf_key), *nb;
	size_t cap = size > fs->max_read ? size : fs->max_read;

	if (b && b->cap >= size)
		return b->data;
	/* Once per worker thread: reads never exceed max_read. */
	nb = malloc(sizeof(*nb) + cap);
	if (!nb || pthread_setspecific(fs->buf_key, nb)) {
		free(nb);
		return NULL;
	}
	free(b);
	nb->cap = cap;
	return nb->data;
}

/* Serve a data read by copying it through view_read. */
static void reply_copy(fuse_req_t req, struct ckptfs *fs, size_t idx, uint64_t off, size_t size)
{
	void *buf = thread_buffer(fs, size);
	int64_t got;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	got = view_read(fs->view, idx, off, size, buf);
	if (got < 0)
		reply_read_error(req, fs, idx, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
}

/*
 * Whether every piece still lies inside its source shard. A shard cut
 * short after mounting would make the spliced reply short, which the
 * kernel takes for EOF and shrinks the file; view_read reports EIO instead.
 */
static int pieces_intact(const struct view_piece *p, size_t n)
{
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		int64_t end = p[i].off + (int64_t)p[i].len;

		if (p[i].fd < 0)
			continue; /* zeros */
		/* consecutive pieces mostly share a shard: stat it once */
		while (i + 1 < n && p[i + 1].fd == p[i].fd) {
			i++;
			if (p[i].off + (int64_t)p[i].len > end)
				end = p[i].off + (int64_t)p[i].len;
		}
		if (fstat(p[i].fd, &st) != 0 || st.st_size < end)
			return 0;
	}
	return 1;
}

/*
 * What a hidden range reads as: a piece is at most one request long.
 * Never written, so its pages stay the kernel's shared zero page.
 */
static char zeros[CKPTFS_MAX_READ]; /* .bss: no bytes in the binary */

/* Hand the pieces to the kernel as fd ranges: spliced, never copied here. */
static void reply_pieces(fuse_req_t req, const struct view_piece *p, size_t n)
{
	/* struct fuse_bufvec ends in a one-element array: make room for n */
	union {
		struct fuse_bufvec bv;
		unsigned char room[sizeof(struct fuse_bufvec) +
				   (CKPTFS_MAX_PIECES - 1) * sizeof(struct fuse_buf)];
	} u;
	struct fuse_bufvec *bv = &u.bv;

	memset(&u, 0, sizeof(u));
	bv->count = n;
	for (size_t i = 0; i < n; i++) {
		bv->buf[i].size = p[i].len;
		if (p[i].fd < 0) { /* bytes of a tensor the merge hides */
			bv->buf[i].mem = zeros;
			continue;
		}
		bv->buf[i].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv->buf[i].fd = p[i].fd;
		bv->buf[i].pos = p[i].off;
	}
	/*
	 * No SPLICE_MOVE: the kernel would try to steal the sources' page
	 * cache pages (14 % of daemon CPU in perf) and evicted ~38 MiB of
	 * them per 2 GiB read, for no gain in throughput.
	 */
	fuse_reply_data(req, bv, 0);
}

/*
 * Bytes of remote sources are fetched, verified and cached before the
 * reply points at them. A failure is logged every time, naming the
 * object and range (each is a different tensor, or the server's state),
 * and the read fails with EIO: TensorFlow then reports a DataLossError.
 */
static int fetch_remote(struct ckptfs *fs, size_t idx, uint64_t off, size_t size,
			struct view_readahead *ra)
{
	char msg[1024];
	int rc;

	if (!view_is_remote(fs->view))
		return 0;
	rc = view_fetch_range(fs->view, idx, off, size, ra, msg, sizeof(msg));
	if (rc)
		fuse_log(FUSE_LOG_ERR, "ckptfs: reading '%s': %s\n",
			 view_file_at(fs->view, idx)->name, msg);
	return rc;
}

static void reply_data(fuse_req_t req, struct ckptfs *fs, size_t idx, uint64_t off, size_t size,
		       struct view_readahead *ra)
{
	struct view_piece pieces[CKPTFS_MAX_PIECES];
	size_t n = 0;
	int rc;

	if (fetch_remote(fs, idx, off, size, ra)) {
		fuse_reply_err(req, EIO);
		return;
	}
	rc = view_map_range(fs->view, idx, off, size, pieces, CKPTFS_MAX_PIECES, &n);
	if (rc == -E2BIG || (rc == 0 && !pieces_intact(pieces, n)))
		reply_copy(req, fs, idx, off, size);
	else if (rc < 0)
		reply_read_error(req, fs, idx, -rc);
	else if (n == 0)
		fuse_reply_buf(req, NULL, 0);
	else
		reply_pieces(req, pieces, n);
}

static void reply_mem(fuse_req_t req, const struct view_file *f, uint64_t off, size_t size)
{
	if (off >= f->size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > f->size - off)
		size = (size_t)(f->size - off);
	fuse_reply_buf(req, (const char *)f->mem + off, size);
}

static void ckptfs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	struct ckptfs *fs = ckptfs_data(req);
	const struct view_file *f;
	size_t idx;

	uring_note_request(req, fs);
	if (!(f = file_of(fs, ino, &idx)))
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
	else if (off < 0)
		fuse_reply_err(req, EINVAL);
	else if (view_file_is_extents(f))
		reply_data(req, fs, idx, (uint64_t)off, size,
			   (struct view_readahead *)(uintptr_t)fi->fh);
	else
		reply_mem(req, f, (uint64_t)off, size);
}

/* --------------------------------------- everything that would write */

static void ckptfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			      struct fuse_file_info *fi)
{
	(void)ino, (void)attr, (void)to_set, (void)fi;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			    dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			     fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			   const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	(void)ino, (void)buf, (void)size, (void)off, (void)fi;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			     struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			       size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
				struct fuse_file_info *fi)
{
	(void)ino, (void)mode, (void)off, (void)len, (void)fi;
	fuse_reply_err(req, EROFS);
}

static void ckptfs_ll_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
				      struct fuse_file_info *fi_in, fuse_ino_t ino_out,
				      off_t off_out, struct fuse_file_info *fi_out, size_t len,
				      int flags)
{
	(void)ino_in, (void)off_in, (void)fi_in, (void)ino_out;
	(void)off_out, (void)fi_out, (void)len, (void)flags;
	fuse_reply_err(req, EROFS);
}

const struct fuse_lowlevel_ops ckptfs_ll_ops = {
	.init = ckptfs_ll_init,
	.lookup = ckptfs_ll_lookup,
	.forget = ckptfs_ll_forget,
	.forget_multi = ckptfs_ll_forget_multi,
	.getattr = ckptfs_ll_getattr,
	.opendir = ckptfs_ll_opendir,
	.readdir = ckptfs_ll_readdir,
	.statfs = ckptfs_ll_statfs,
	.access = ckptfs_ll_access,
	.getxattr = ckptfs_ll_getxattr,
	.listxattr = ckptfs_ll_listxattr,
	.open = ckptfs_ll_open,
	.read = ckptfs_ll_read,
	.release = ckptfs_ll_release,
	.setattr = ckptfs_ll_setattr,
	.mknod = ckptfs_ll_mknod,
	.mkdir = ckptfs_ll_mkdir,
	.unlink = ckptfs_ll_unlink,
	.rmdir = ckptfs_ll_rmdir,
	.symlink = ckptfs_ll_symlink,
	.rename = ckptfs_ll_rename,
	.link = ckptfs_ll_link,
	.write = ckptfs_ll_write,
	.create = ckptfs_ll_create,
	.setxattr = ckptfs_ll_setxattr,
	.removexattr = ckptfs_ll_removexattr,
	.fallocate = ckptfs_ll_fallocate,
	.copy_file_range = ckptfs_ll_copy_file_range,
};

/* ------------------------------------------------------------ state */

int ckptfs_init(struct ckptfs *fs, const struct view *v, unsigned max_read, unsigned max_read_limit)
{
	size_t n = view_num_files(v);
	long page = sysconf(_SC_PAGESIZE);

	memset(fs, 0, sizeof(*fs));
	fs->view = v;
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->time);
	fs->timeout = CACHE_TIMEOUT;
	/* The kernel never asks for less than a page, whatever we say. */
	fs->max_read = max_read;
	if (fs->max_read < (unsigned)page)
		fs->max_read = (unsigned)page;
	if (max_read_limit > CKPTFS_MAX_READ)
		max_read_limit = CKPTFS_MAX_READ;
	if (fs->max_read > max_read_limit)
		fs->max_read = max_read_limit;
	atomic_init(&fs->pt_on, false);
	atomic_init(&fs->direct_on, false);
	atomic_init(&fs->uring_seen, false);
	fs->logged = calloc(n ? n : 1, sizeof(*fs->logged));
	fs->backing = calloc(n ? n : 1, sizeof(*fs->backing));
	if (!fs->logged || !fs->backing)
		goto fail;
	for (size_t i = 0; i < n; i++)
		atomic_init(&fs->logged[i], false);
	if (pthread_mutex_init(&fs->pt_lock, NULL))
		goto fail;
	if (pthread_key_create(&fs->buf_key, free)) {
		pthread_mutex_destroy(&fs->pt_lock);
		goto fail;
	}
	return 0;
fail:
	free(fs->logged);
	free(fs->backing);
	fs->logged = NULL;
	fs->backing = NULL;
	return -ENOMEM;
}

void ckptfs_release(struct ckptfs *fs)
{
	/* worker threads freed theirs on exit; -s served from this one */
	free(pthread_getspecific(fs->buf_key));
	pthread_key_delete(fs->buf_key);
	pthread_mutex_destroy(&fs->pt_lock);
	free(fs->logged);
	free(fs->backing);
	fs->logged = NULL;
	fs->backing = NULL;
}
