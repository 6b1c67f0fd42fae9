/*
 * cache.c - ckptfs:// paths to plans: which part of a path is the mapping
 * file, and one built view per mapping file, rebuilt when the file changes;
 * while a PREFIX.index is open, the data files follow its plan.
 * TensorFlow asks for a file's size, opens it and globs its directory in
 * separate calls, and restores read from many threads: building the plan
 * once per mapping is what makes the plugin as fast as the sources.
 */
#include "tfplugin/tfplugin.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

/* As mapping_parse_file's cap: a wrong path must not eat memory. */
#define MAPPING_MAX ((size_t)16 << 20)

/* A mapping file as read: its bytes and what fstat said of it. */
struct mapping_text {
	char *buf; /* owned, NUL-terminated */
	size_t len;
	struct stat st;
};

struct tfp_plan {
	atomic_long refs;
	uint64_t id;            /* unique in the process: see thread_index */
	atomic_long open_index; /* open files of its PREFIX.index (tfp_open) */
	char *path;             /* owned; the mapping file as the URI names it */
	/*
	 * The mapping file the plan was built from, to notice a change: the
	 * bytes parsed, and its fstat. An edit in place that keeps the size
	 * and the mtime (cp -p, touch -r, rsync --inplace) changes the
	 * ctime, which no user can set back; within the ctime's tick (a few
	 * milliseconds) only the bytes tell.
	 */
	struct mapping_text text;
	struct mapping *m; /* owned; outlives v */
	struct view *v;    /* owned, compacted */
};

struct tfp_cache {
	pthread_mutex_t lock; /* guards slots, open_plans and tick */
	struct {
		struct tfp_plan *plan; /* one reference, the cache's; NULL: free */
		unsigned long used;    /* tick of the last lookup, for LRU */
	} slots[TFP_CACHE_PLANS];
	/*
	 * Plans with an open PREFIX.index, whose data files follow them: one
	 * reference each (the cache's), and the tick of the last open. An
	 * entry whose index is closed again is dropped by the next call that
	 * reads the mapping file or opens an index (forget_closed).
	 */
	struct {
		struct tfp_plan *plan; /* NULL: free */
		unsigned long opened;
	} open_plans[TFP_CACHE_OPEN_PLANS];
	unsigned long tick;
};

static atomic_ullong next_plan_id = 1;

/* The id of the plan whose PREFIX.index this thread opened last; 0: none. */
static _Thread_local uint64_t thread_index;

struct tfp_cache *tfp_cache_new(void)
{
	struct tfp_cache *c = calloc(1, sizeof(*c));

	if (c && pthread_mutex_init(&c->lock, NULL)) {
		free(c);
		return NULL;
	}
	return c;
}

void tfp_cache_free(struct tfp_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < TFP_CACHE_PLANS; i++)
		tfp_plan_unref(c->slots[i].plan);
	for (size_t i = 0; i < TFP_CACHE_OPEN_PLANS; i++)
		tfp_plan_unref(c->open_plans[i].plan);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct tfp_plan *tfp_plan_ref(struct tfp_plan *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

void tfp_plan_unref(struct tfp_plan *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	view_free(p->v);
	mapping_free(p->m);
	free(p->text.buf);
	free(p->path);
	free(p);
}

const struct view *tfp_plan_view(const struct tfp_plan *p) { return p->v; }

int64_t tfp_plan_mtime_nsec(const struct tfp_plan *p)
{
	const struct timespec *t = &p->text.st.st_mtim;

	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Whether p was built from the mapping file now read as t. */
static int same_file(const struct tfp_plan *p, const struct mapping_text *t)
{
	const struct stat *a = &p->text.st, *b = &t->st;

	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       same_time(&a->st_mtim, &b->st_mtim) && same_time(&a->st_ctim, &b->st_ctim) &&
	       p->text.len == t->len && !memcmp(p->text.buf, t->buf, t->len);
}

static int cannot_read(const char *path, int e, char *err, size_t errlen)
{
	const struct mapping_pos pos = { path, 0, 0 };
	char text[128];

	/* strerror() is not thread-safe */
	if (strerror_r(e, text, sizeof(text)))
		snprintf(text, sizeof(text), "error %d", e);
	return mapping_diag(err, errlen, -e, &pos, "error", "cannot read: %s", text);
}

/* Open path for reading if it is a regular file (fstat into *st): fd or -errno. */
static int open_regular(const char *path, struct stat *st, char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO cannot hang us in open() */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), e = 0;

	if (fd < 0)
		return cannot_read(path, errno, err, errlen);
	if (fstat(fd, st) < 0)
		e = errno;
	else if (S_ISDIR(st->st_mode))
		e = EISDIR;
	else if (S_ISREG(st->st_mode) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		e = errno;
	if (!e && !S_ISREG(st->st_mode)) {
		const struct mapping_pos pos = { path, 0, 0 };
		const char *kind = util_file_kind(st->st_mode);

		close(fd);
		return mapping_diag(err, errlen, -EINVAL, &pos, "error",
				    "cannot read: not a regular file (%s)",
				    kind ? kind : "not a regular file");
	}
	if (e) {
		close(fd);
		return cannot_read(path, e, err, errlen);
	}
	return fd;
}

/*
 * Read the mapping file at path as mapping_parse_file() does (a regular
 * file, opened without blocking, under MAPPING_MAX bytes), with its
 * messages: the bytes are parsed and kept, so that the plan is exactly
 * what they say and the next resolve can compare them.
 */
static int read_mapping(const char *path, struct mapping_text *out, char *err, size_t errlen)
{
	int fd = open_regular(path, &out->st, err, errlen), rc;

	if (fd < 0)
		return fd;
	rc = util_read_all(fd, MAPPING_MAX - 1, &out->buf, &out->len);
	close(fd);
	if (rc == -EFBIG) {
		const struct mapping_pos pos = { path, 0, 0 };

		return mapping_diag(err, errlen, -EFBIG, &pos, "error",
				    "file too large (a mapping file must be under %zu MiB)",
				    MAPPING_MAX >> 20);
	}
	return rc ? cannot_read(path, -rc, err, errlen) : 0;
}

/* The directory relative source paths are joined to: path's (malloc'd). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/*
 * Parse and build the mapping at path from the bytes read as *t, which
 * the plan takes (t->buf becomes NULL) when it is built.
 */
static int build_plan(const char *path, struct mapping_text *t, struct tfp_plan **out, char *err,
		      size_t errlen)
{
	/*
	 * The files the mapping's `format` names, as a mount serves them; the
	 * plugin serves files, not the plan.
	 */
	struct view_options opt = { .prefix = NULL, .layout = -1, .format = -1, .compact = 1 };
	struct tfp_plan *p = calloc(1, sizeof(*p));
	char *dir = dir_of(path);
	int rc;

	if (!p || !dir || !(p->path = strdup(path))) {
		free(p);
		free(dir);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = mapping_parse_buffer(path, t->buf, t->len, dir, &p->m, err, errlen);
	free(dir);
	if (rc == 0)
		rc = view_build(p->m, &opt, &p->v, err, errlen);
	if (rc) {
		mapping_free(p->m);
		free(p->path);
		free(p);
		/*
		 * A source or tensor the mapping names is missing: the mapping
		 * is wrong, the path is not. TensorFlow takes NOT_FOUND for
		 * "no such file" and would drop the FILE:LINE:COL message.
		 */
		return rc == -ENOENT ? -EINVAL : rc;
	}
	atomic_init(&p->refs, 1);
	atomic_init(&p->open_index, 0);
	p->id = atomic_fetch_add(&next_plan_id, 1);
	p->text = *t;
	t->buf = NULL;
	*out = p;
	return 0;
}

/*
 * The slot for path: its current plan's, else an empty one, else the least
 * recently used. Called with the lock held.
 */
static size_t pick_slot(struct tfp_cache *c, const char *path)
{
	size_t best = 0;

	for (size_t i = 0; i < TFP_CACHE_PLANS; i++) {
		struct tfp_plan *p = c->slots[i].plan;

		if (p && !strcmp(p->path, path))
			return i;
		if (!c->slots[best].plan)
			continue;
		if (!p || c->slots[i].used < c->slots[best].used)
			best = i;
	}
	return best;
}

/*
 * Forget the plans whose index was closed again (lock held): an old plan
 * holds its source shards open, so it should not outlive its readers by
 * much.
 */
static void forget_closed(struct tfp_cache *c)
{
	for (size_t i = 0; i < TFP_CACHE_OPEN_PLANS; i++) {
		struct tfp_plan *p = c->open_plans[i].plan;

		if (p && !atomic_load(&p->open_index)) {
			tfp_plan_unref(p);
			c->open_plans[i].plan = NULL;
		}
	}
}

/* A reference to the plan of the mapping file at path, read anew. */
static int get_plan(struct tfp_cache *c, const char *path, struct tfp_plan **out, char *err,
		    size_t errlen)
{
	struct mapping_text t = { 0 };
	size_t i;
	int rc = read_mapping(path, &t, err, errlen);

	if (rc)
		return rc;
	/*
	 * Built under the lock: the threads of one restore open the same
	 * mapping at once, and it must be built once, not once per thread.
	 */
	pthread_mutex_lock(&c->lock);
	forget_closed(c);
	i = pick_slot(c, path);
	if (!c->slots[i].plan || strcmp(c->slots[i].plan->path, path) ||
	    !same_file(c->slots[i].plan, &t)) {
		struct tfp_plan *p;

		rc = build_plan(path, &t, &p, err, errlen);
		if (rc == 0) {
			tfp_plan_unref(c->slots[i].plan);
			c->slots[i].plan = p;
		}
	}
	if (rc == 0) {
		c->slots[i].used = ++c->tick;
		*out = tfp_plan_ref(c->slots[i].plan);
	}
	pthread_mutex_unlock(&c->lock);
	free(t.buf);
	return rc;
}

static int is_kind(const struct tfp_plan *p, long file, enum view_file_kind kind)
{
	return file >= 0 && view_file_at(p->v, (size_t)file)->kind == kind;
}

/*
 * The data files follow the index: a reference to the plan, among those
 * of mapping path with an open index, that has a data file called name
 * (*file): the one whose index this thread opened last, else the one
 * whose index was opened last. NULL when there is none.
 */
static struct tfp_plan *follow_index(struct tfp_cache *c, const char *path, const char *name,
				     long *file)
{
	struct tfp_plan *found = NULL;
	unsigned long opened = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < TFP_CACHE_OPEN_PLANS; i++) {
		struct tfp_plan *p = c->open_plans[i].plan;
		long f;

		if (!p || !atomic_load(&p->open_index) || strcmp(p->path, path))
			continue;
		f = view_lookup(p->v, name);
		if (!is_kind(p, f, VIEW_FILE_DATA))
			continue;
		if (p->id == thread_index || !found || c->open_plans[i].opened > opened) {
			found = p;
			opened = c->open_plans[i].opened;
			*file = f;
		}
		if (p->id == thread_index)
			break;
	}
	if (found)
		tfp_plan_ref(found);
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* Remember that an index of p is open (lock held). */
static void remember_open(struct tfp_cache *c, struct tfp_plan *p)
{
	size_t pick = 0;

	for (size_t i = 0; i < TFP_CACHE_OPEN_PLANS; i++) {
		if (c->open_plans[i].plan == p) {
			c->open_plans[i].opened = ++c->tick;
			return;
		}
	}
	forget_closed(c);
	/* a free entry, else the one opened longest ago */
	for (size_t i = 0; i < TFP_CACHE_OPEN_PLANS; i++) {
		if (!c->open_plans[pick].plan)
			break;
		if (!c->open_plans[i].plan || c->open_plans[i].opened < c->open_plans[pick].opened)
			pick = i;
	}
	tfp_plan_unref(c->open_plans[pick].plan);
	c->open_plans[pick].plan = tfp_plan_ref(p);
	c->open_plans[pick].opened = ++c->tick;
}

int tfp_open(struct tfp_cache *c, const char *path, struct tfp_node *out, char *err, size_t errlen)
{
	int rc = tfp_resolve(c, path, out, err, errlen);

	if (rc || !is_kind(out->plan, out->file, VIEW_FILE_INDEX))
		return rc;
	atomic_fetch_add(&out->plan->open_index, 1);
	thread_index = out->plan->id;
	pthread_mutex_lock(&c->lock);
	remember_open(c, out->plan);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void tfp_close(struct tfp_node *node)
{
	if (is_kind(node->plan, node->file, VIEW_FILE_INDEX))
		atomic_fetch_sub(&node->plan->open_index, 1);
	tfp_plan_unref(node->plan);
}

/* "'PATH'" for messages: escaped, as everything read from outside. */
static const char *shown(char *buf, size_t len, const char *path)
{
	return util_escape(buf, len, path, strlen(path), 0);
}

int tfp_resolve(struct tfp_cache *c, const char *path, struct tfp_node *out, char *err,
		size_t errlen)
{
	char show[512], *dir;
	const char *name;
	struct stat st;
	long file = -1;
	int rc;

	if (path[0] != '/') {
		snprintf(err, errlen,
			 "'%s': a ckptfs path is ckptfs:// + the absolute path of a mapping file",
			 shown(show, sizeof(show), path));
		return -EINVAL;
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		rc = get_plan(c, path, &out->plan, err, errlen);
		if (rc == 0)
			out->file = -1;
		return rc;
	}
	/* MAPPING/NAME: the merged directory is flat */
	name = strrchr(path, '/') + 1;
	dir = strndup(path, (size_t)(name - path - 1));
	if (!dir) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	out->plan = *name ? follow_index(c, dir, name, &out->file) : NULL;
	if (out->plan) {
		free(dir);
		return 0;
	}
	if (stat(dir, &st) != 0 || !S_ISREG(st.st_mode)) {
		free(dir);
		snprintf(err, errlen,
			 "'%s': no such ckptfs file (expected MAPPING-FILE or MAPPING-FILE/NAME)",
			 shown(show, sizeof(show), path));
		return -ENOENT;
	}
	rc = get_plan(c, dir, &out->plan, err, errlen);
	free(dir);
	if (rc)
		return rc;
	if (!*name) { /* "MAPPING/": the directory */
		out->file = -1;
		return 0;
	}
	file = view_lookup(out->plan->v, name);
	if (file < 0) {
		tfp_plan_unref(out->plan);
		snprintf(err, errlen, "'%s': no such file in the merged checkpoint",
			 shown(show, sizeof(show), path));
		return -ENOENT;
	}
	out->file = file;
	return 0;
}

static int has_glob(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strchr("*?[\\", s[i]))
			return 1;
	return 0;
}

/* A malloc'd "head" + "/" + name (name NULL: head alone). */
static char *joined(const char *head, size_t head_len, const char *name)
{
	size_t name_len = name ? strlen(name) + 1 : 0;
	char *s = malloc(head_len + name_len + 1);

	if (!s)
		return NULL;
	memcpy(s, head, head_len);
	if (name) {
		s[head_len] = '/';
		memcpy(s + head_len + 1, name, name_len - 1);
	}
	s[head_len + name_len] = '\0';
	return s;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* A glob's answer when nothing matches (not an error). */
static int no_match(char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return 0;
}

/* A pattern with no glob characters: pattern itself if path exists. */
static int glob_plain(struct tfp_cache *c, const char *pattern, const char *path, char ***out,
		      size_t *n, char *err, size_t errlen)
{
	struct tfp_node node;
	char **list;
	int rc = tfp_resolve(c, path, &node, err, errlen);

	if (rc == -ENOENT)
		return no_match(out, n);
	if (rc)
		return rc;
	tfp_plan_unref(node.plan);
	list = malloc(sizeof(*list));
	if (!list || !(list[0] = strdup(pattern))) {
		free(list);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = list;
	*n = 1;
	return 0;
}

/*
 * The names of v's files that glob matches, each as the first head_len
 * bytes of pattern + "/" + name: a malloc'd array of *n malloc'd strings,
 * or NULL when out of memory.
 */
static char **matching_names(const struct view *v, const char *glob, const char *pattern,
			     size_t head_len, size_t *n)
{
	size_t cap = view_num_files(v), count = 0;
	char **list = calloc(cap ? cap : 1, sizeof(*list));

	for (size_t i = 0; list && i < cap; i++) {
		const char *name = view_file_at(v, i)->name;

		if (fnmatch(glob, name, FNM_PERIOD) != 0)
			continue;
		list[count] = joined(pattern, head_len, name);
		if (!list[count]) {
			free_list(list, count);
			return NULL;
		}
		count++;
	}
	*n = count;
	return list;
}

/*
 * A pattern whose glob characters are in its last component only: the
 * merged directory's names that match it. last is the last '/' of path.
 */
static int glob_dir(struct tfp_cache *c, const char *pattern, const char *path, const char *last,
		    char ***out, size_t *n, char *err, size_t errlen)
{
	struct tfp_node node;
	char *dir = strndup(path, (size_t)(last - path));
	int rc;

	if (!dir) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = tfp_resolve(c, dir, &node, err, errlen);
	free(dir);
	if (rc == -ENOENT)
		return no_match(out, n);
	if (rc)
		return rc;
	if (node.file >= 0) { /* a file, not a merged directory */
		tfp_plan_unref(node.plan);
		return no_match(out, n);
	}
	/* the results keep the scheme: up to last in pattern */
	*out = matching_names(node.plan->v, last + 1, pattern, (size_t)(last - pattern), n);
	tfp_plan_unref(node.plan);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int tfp_glob(struct tfp_cache *c, const char *pattern, char ***out, size_t *n, char *err,
	     size_t errlen)
{
	static const char scheme[] = "ckptfs://";
	const char *path = pattern, *last;
	char show[512];

	if (!strncmp(path, scheme, sizeof(scheme) - 1))
		path += sizeof(scheme) - 1;
	if (!has_glob(path, strlen(path)))
		return glob_plain(c, pattern, path, out, n, err, errlen);
	last = strrchr(path, '/');
	if (!last || has_glob(path, (size_t)(last - path))) {
		snprintf(err, errlen,
			 "'%s': a ckptfs glob may only match names in a merged directory",
			 shown(show, sizeof(show), pattern));
		return -ENOTSUP;
	}
	return glob_dir(c, pattern, path, last, out, n, err, errlen);
}

int64_t tfp_read(const struct tfp_plan *p, size_t file, uint64_t off, size_t len, void *buf,
		 struct view_readahead *ra, const char *path, char *err, size_t errlen)
{
	char show[512];
	/* a remote source's bytes: fetched and verified first, so a failure
	 * names the object and the range (a checksum, a timeout) */
	int rc = view_fetch_range(p->v, file, off, len, ra, err, errlen);
	int64_t got = rc ? rc : view_read(p->v, file, off, len, buf);

	if (rc)
		return rc;
	if (got == -EIO)
		snprintf(err, errlen,
			 "'%s': a source shard is shorter than when the mapping was opened",
			 shown(show, sizeof(show), path));
	else if (got < 0)
		snprintf(err, errlen, "'%s': read failed: %s", shown(show, sizeof(show), path),
			 strerror((int)-got));
	return got;
}
