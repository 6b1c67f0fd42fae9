/*
 * obj.c - one remote object: opened with a probe that pins its size and
 * version, covered by units (the caller's verification units, and the
 * bytes between them in chunks), each unit missing, being fetched or
 * present. A fetch claims the missing units of a range, fetches them in
 * parallel parts, verifies them in the cache file and marks them present
 * (in memory and in the cache's records, for other processes); threads
 * that need a unit another thread is fetching wait for it.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

/* Unverified bytes are fetched in chunks of this size; requests are at
 * most PART_MAX bytes (a large unit is fetched in parallel parts). */
#define CHUNK (4 << 20)
#define PART_MAX (8 << 20)

enum {
	MISSING,
	INFLIGHT,
	PRESENT
};

struct unit {
	int64_t off, len, count;
	uint32_t crc;
	int32_t tag;
	uint8_t verified; /* checked by verify; else by version only */
	uint8_t state;
};

struct store_obj {
	struct store *s; /* borrowed; must outlive the object */
	int refs;
	struct store_url url;
	int64_t size;
	char etag[160];    /* a strong ETag, or "" */
	char modified[64]; /* else Last-Modified, or "" */
	struct cache_entry ce;
	pthread_mutex_t lock; /* guards units' states and ce.map_pos */
	pthread_cond_t cond;  /* a fetch ended */
	struct unit *u;       /* owned, sorted, covering [0, size) */
	size_t n;
	store_verify_fn verify;
};

/* ------------------------------------------------------------- opening */

/* The probe: bytes=0-0 gives the size (Content-Range), the version, and
 * an early "no ranges here" from a server that answers 200. */
static int probe(struct store_obj *o, char *err, size_t errlen)
{
	struct http_req r = { .url = &o->url, .off = 0, .len = 1, .fd = -1, .probe = 1 };
	int rc = store_http_run(o->s, &r, 1, store_now_ms() + o->s->timeout_ms, err, errlen);

	if (rc == -ENOENT)
		return store_errf(err, errlen, rc, "'%s': no such object (HTTP 404%s%s)",
				  o->url.shown, r.errcode[0] ? " " : "", r.errcode);
	if (rc)
		return rc;
	if (r.total < 0)
		return store_errf(err, errlen, -EIO,
				  "'%s': the server did not say the object's size", o->url.shown);
	o->size = r.total;
	if (r.etag[0] && strncmp(r.etag, "W/", 2))
		snprintf(o->etag, sizeof(o->etag), "%s", r.etag);
	else
		snprintf(o->modified, sizeof(o->modified), "%s", r.modified);
	return 0;
}

static int open_cache(struct store_obj *o, char *err, size_t errlen)
{
	size_t n = strlen(o->url.request) + sizeof(o->etag) + sizeof(o->modified) + 32;
	char *key = malloc(n);
	int rc;

	if (!key)
		return store_errf(err, errlen, -ENOMEM, "out of memory");
	snprintf(key, n, "%s\n%s%s\n%lld", o->url.request, o->etag, o->modified,
		 (long long)o->size);
	rc = store_cache_open(o->s, key, o->size, &o->ce, err, errlen);
	free(key);
	return rc;
}

int store_obj_open(struct store *s, const char *url, struct store_obj **out, char *err,
		   size_t errlen)
{
	struct store_obj *o = calloc(1, sizeof(*o));
	int rc;

	if (!o)
		return store_errf(err, errlen, -ENOMEM, "out of memory");
	o->s = s;
	o->refs = 1;
	o->ce.data_fd = o->ce.map_fd = -1;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	rc = store_url_parse(url, &s->aws, &o->url, err, errlen);
	if (rc == 0)
		rc = probe(o, err, errlen);
	if (rc == 0)
		rc = open_cache(o, err, errlen);
	if (rc) {
		store_obj_close(o);
		return rc;
	}
	*out = o;
	return 0;
}

struct store_obj *store_obj_ref(struct store_obj *o)
{
	__atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
	return o;
}

void store_obj_close(struct store_obj *o)
{
	if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	store_cache_close(&o->ce);
	store_url_release(&o->url);
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	free(o->u);
	free(o);
}

const char *store_obj_url(const struct store_obj *o) { return o->url.shown; }

int64_t store_obj_size(const struct store_obj *o) { return o->size; }

int store_obj_fd(const struct store_obj *o) { return o->ce.data_fd; }

/* --------------------------------------------------------------- units */

/* Append unverified chunks covering [from, to). */
static int add_gap(struct unit **u, size_t *n, size_t *cap, int64_t from, int64_t to)
{
	while (from < to) {
		int64_t len = to - from < CHUNK ? to - from : CHUNK;
		struct unit *g = util_grow(*u, cap, *n + 1, sizeof(**u));

		if (!g)
			return -ENOMEM;
		*u = g;
		g[(*n)++] = (struct unit){ .off = from, .len = len };
		from += len;
	}
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const struct store_unit *x = a, *y = b;

	return (x->off > y->off) - (x->off < y->off);
}

/* Add unit in (sorted) after the cover so far, which ends at *end. */
static int add_unit(struct unit **u, size_t *n, size_t *cap, int64_t *end,
		    const struct store_unit *in)
{
	int64_t e = in->off + in->len;
	struct unit *g;

	if (in->off < *end) { /* overlaps the last one: one unverified range */
		struct unit *last = &(*u)[*n - 1];

		if (e > *end)
			last->len = e - last->off;
		last->verified = 0;
		*end = last->off + last->len;
		return 0;
	}
	if (add_gap(u, n, cap, *end, in->off))
		return -ENOMEM;
	g = util_grow(*u, cap, *n + 1, sizeof(**u));
	if (!g)
		return -ENOMEM;
	*u = g;
	g[(*n)++] = (struct unit){ .off = in->off,
				   .len = in->len,
				   .count = in->count,
				   .crc = in->crc,
				   .tag = in->tag,
				   .verified = 1 };
	*end = e;
	return 0;
}

static void apply_mark(void *ctx, int64_t off, int64_t len);

/* The cover of [0, size) from sorted units in[0..n). Call locked. */
static int build_cover(struct store_obj *o, const struct store_unit *in, size_t n)
{
	struct unit *u = NULL;
	size_t k = 0, cap = 0;
	int64_t end = 0;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		if (in[i].len > 0 && in[i].off >= 0 && in[i].off <= o->size &&
		    in[i].len <= o->size - in[i].off)
			rc = add_unit(&u, &k, &cap, &end, &in[i]);
	if (rc == 0)
		rc = add_gap(&u, &k, &cap, end, o->size);
	if (rc) {
		free(u);
		return rc;
	}
	free(o->u);
	o->u = u;
	o->n = k;
	o->ce.map_pos = o->ce.map_hdr; /* read every record against the new cover */
	return store_cache_read_marks(&o->ce, apply_mark, o);
}

int store_obj_set_units(struct store_obj *o, const struct store_unit *u, size_t n,
			store_verify_fn verify, char *err, size_t errlen)
{
	struct store_unit *sorted = malloc((n ? n : 1) * sizeof(*sorted));
	int rc;

	if (!sorted)
		return store_errf(err, errlen, -ENOMEM, "out of memory");
	memcpy(sorted, u, n * sizeof(*u));
	qsort(sorted, n, sizeof(*sorted), by_offset);
	pthread_mutex_lock(&o->lock);
	o->verify = verify;
	rc = build_cover(o, sorted, n);
	pthread_mutex_unlock(&o->lock);
	free(sorted);
	return rc ? store_errf(err, errlen, rc, "'%s': %s", o->url.shown, strerror(-rc)) : 0;
}

/* The unit holding byte off (off < size). */
static size_t unit_at(const struct store_obj *o, int64_t off)
{
	size_t lo = 0, hi = o->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->u[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* A record: the units wholly inside [off, off + len) are present. */
static void apply_mark(void *ctx, int64_t off, int64_t len)
{
	struct store_obj *o = ctx;

	if (off < 0 || len <= 0 || off >= o->size || o->n == 0)
		return;
	for (size_t i = unit_at(o, off); i < o->n && o->u[i].off < off + len; i++)
		if (o->u[i].off >= off && o->u[i].off + o->u[i].len <= off + len &&
		    o->u[i].state == MISSING)
			o->u[i].state = PRESENT;
}

/* ---------------------------------------------------------- a fetch */

/* The claimed units as runs of neighbours: ranges[k] = {off, len}. */
static size_t make_runs(const struct store_obj *o, const size_t *idx, size_t n,
			int64_t (*ranges)[2])
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct unit *u = &o->u[idx[i]];

		if (k && ranges[k - 1][0] + ranges[k - 1][1] == u->off)
			ranges[k - 1][1] += u->len;
		else
			ranges[k][0] = u->off, ranges[k][1] = u->len, k++;
	}
	return k;
}

/* Requests for the runs, each at most PART_MAX bytes. */
static struct http_req *make_parts(struct store_obj *o, int64_t (*ranges)[2], size_t n_runs,
				   size_t *n)
{
	struct http_req *r = NULL;
	size_t cap = 0;

	*n = 0;
	for (size_t i = 0; i < n_runs; i++) {
		for (int64_t off = ranges[i][0]; off < ranges[i][0] + ranges[i][1];) {
			int64_t len = ranges[i][0] + ranges[i][1] - off;
			struct http_req *g = util_grow(r, &cap, *n + 1, sizeof(*r));

			if (!g) {
				free(r);
				return NULL;
			}
			r = g;
			if (len > PART_MAX)
				len = PART_MAX;
			r[(*n)++] = (struct http_req){ .url = &o->url,
						       .off = off,
						       .len = len,
						       .if_match = o->etag[0] ? o->etag : NULL,
						       .want_modified =
							       o->modified[0] ? o->modified : NULL,
						       .fd = o->ce.data_fd,
						       .fd_off = off };
			off += len;
		}
	}
	return r;
}

/* Whether every part overlapping [off, off + len) arrived. */
static int arrived(const struct http_req *r, size_t n, int64_t off, int64_t len)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].rc && r[i].off < off + len && off < r[i].off + r[i].len)
			return 0;
	return 1;
}

/* Check unit u's bytes in the cache file; 0 or -EBADMSG with a message. */
static int check_unit(struct store_obj *o, const struct unit *u, char *err, size_t errlen)
{
	struct store_unit su = { u->off, u->len, u->count, u->crc, u->tag };
	char why[256] = "";

	if (!u->verified || !o->verify || o->verify(&su, o->ce.data_fd, why, sizeof(why)) == 0)
		return 0;
	STORE_STAT_ADD(o->s, verify_fails, 1);
	store_cache_punch(&o->ce, u->off, u->len);
	return store_errf(
		err, errlen, -EIO,
		"'%s': bytes %lld..%lld do not match the index's checksum%s%s: not served",
		o->url.shown, (long long)u->off, (long long)(u->off + u->len), why[0] ? ": " : "",
		why);
}

/*
 * Settle the claimed units after their parts ran: verify what arrived,
 * record it, and set each unit's state (locked). Returns the first error.
 */
static int settle(struct store_obj *o, const size_t *idx, size_t n, const struct http_req *parts,
		  size_t n_parts, int rc, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		struct unit *u = &o->u[idx[i]];
		int ok = u->state == PRESENT || (arrived(parts, n_parts, u->off, u->len) &&
						 check_unit(o, u, rc ? NULL : err, errlen) == 0);

		if (!ok && rc == 0)
			rc = -EIO;
		if (ok && u->state != PRESENT)
			store_cache_add_mark(&o->ce, u->off, u->len);
		pthread_mutex_lock(&o->lock);
		u->state = ok ? PRESENT : MISSING;
		pthread_mutex_unlock(&o->lock);
	}
	return rc;
}

/* Give claimed units back, missing (a fetch that could not start). */
static void release_claims_locked(struct store_obj *o, const size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (o->u[idx[i]].state == INFLIGHT)
			o->u[idx[i]].state = MISSING;
}

static void release_claims(struct store_obj *o, const size_t *idx, size_t n)
{
	pthread_mutex_lock(&o->lock);
	release_claims_locked(o, idx, n);
	pthread_mutex_unlock(&o->lock);
}

/* Units other processes finished meanwhile: present, counted as hits. */
static void refresh(struct store_obj *o, const size_t *idx, size_t n)
{
	pthread_mutex_lock(&o->lock);
	for (size_t i = 0; i < n; i++)
		o->u[idx[i]].state = MISSING; /* ours: let records mark them */
	store_cache_read_marks(&o->ce, apply_mark, o);
	for (size_t i = 0; i < n; i++) {
		if (o->u[idx[i]].state == PRESENT)
			STORE_STAT_ADD(o->s, cache_hits, 1);
		else
			o->u[idx[i]].state = INFLIGHT;
	}
	pthread_mutex_unlock(&o->lock);
}

/* Drop the units already present from idx. */
static size_t still_missing(struct store_obj *o, size_t *idx, size_t n)
{
	size_t k = 0;

	pthread_mutex_lock(&o->lock);
	for (size_t i = 0; i < n; i++)
		if (o->u[idx[i]].state != PRESENT)
			idx[k++] = idx[i];
	pthread_mutex_unlock(&o->lock);
	return k;
}

/* Fetch the claimed units idx[0..n) (state INFLIGHT, ours). */
static int fetch_units(struct store_obj *o, size_t *idx, size_t n, int64_t deadline, char *err,
		       size_t errlen)
{
	int64_t(*ranges)[2] = malloc(n * sizeof(*ranges));
	struct http_req *parts = NULL;
	size_t n_runs, n_parts = 0, all = n;
	int lock_fd = -1, rc;

	if (!ranges)
		return store_errf(err, errlen, -ENOMEM, "out of memory");
	n_runs = make_runs(o, idx, n, ranges);
	rc = store_cache_lock_ranges(&o->ce, (const int64_t(*)[2])ranges, n_runs, deadline,
				     &lock_fd);
	if (rc)
		store_errf(err, errlen, rc, "'%s': another process is still fetching these bytes",
			   o->url.shown);
	if (rc == 0) {
		refresh(o, idx, n);
		n = still_missing(o, idx, n);
		n_runs = make_runs(o, idx, n, ranges);
		parts = make_parts(o, ranges, n_runs, &n_parts);
		rc = !parts && n_parts ? -ENOMEM : 0;
	}
	if (rc == 0 && n_parts)
		rc = store_http_run(o->s, parts, n_parts, deadline, err, errlen);
	if (lock_fd < 0 && o->ce.data_path && rc) /* never got to fetch */
		release_claims(o, idx, all);
	else if (!parts && n)
		release_claims(o, idx, n);
	else
		rc = settle(o, idx, n, parts, n_parts, rc, err, errlen);
	if (lock_fd >= 0)
		close(lock_fd);
	if (n_parts)
		store_cache_trim(o->s, &o->ce);
	free(parts);
	free(ranges);
	return rc;
}

/* ------------------------------------------------------ the public side */

/* Claim the missing units of [a, b] (locked): their numbers into idx,
 * how many in *n; whether another thread is fetching one of them. */
static int claim(struct store_obj *o, size_t a, size_t b, size_t *idx, size_t *n)
{
	int others = 0;

	store_cache_read_marks(&o->ce, apply_mark, o);
	*n = 0;
	for (size_t i = a; i <= b; i++) {
		if (o->u[i].state == MISSING) {
			o->u[i].state = INFLIGHT;
			idx[(*n)++] = i;
		} else if (o->u[i].state == INFLIGHT) {
			others = 1;
		}
	}
	return others;
}

/* Whether every unit of [a, b] is present (locked). */
static int all_present(const struct store_obj *o, size_t a, size_t b)
{
	for (size_t i = a; i <= b; i++)
		if (o->u[i].state != PRESENT)
			return 0;
	return 1;
}

/* Wait (locked) for another thread's fetch to end, until deadline. */
static int wait_others(struct store_obj *o, int64_t deadline)
{
	int64_t ms = deadline - store_now_ms();
	struct timespec ts;

	if (ms <= 0)
		return -ETIMEDOUT;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000 + (ts.tv_nsec + (ms % 1000) * 1000000) / 1000000000;
	ts.tv_nsec = (ts.tv_nsec + (ms % 1000) * 1000000) % 1000000000;
	pthread_cond_timedwait(&o->cond, &o->lock, &ts);
	return 0;
}

/* Locked: make sure a cover exists (an object nobody gave units to). */
static int ensure_cover(struct store_obj *o)
{
	return o->n || o->size == 0 ? 0 : build_cover(o, NULL, 0);
}

/*
 * The fetch loop, locked on entry and exit: units [a, b] must end up
 * present; units (b, ahead] are fetched along with them, in the same
 * parallel batch, when missing, and their failure fails nothing.
 */
static int fetch_span(struct store_obj *o, size_t a, size_t b, size_t ahead, int64_t deadline,
		      char *err, size_t errlen)
{
	size_t *idx = malloc((ahead - a + 1) * sizeof(*idx)), n;
	int rc = 0, tries = 0;

	if (!idx)
		return store_errf(err, errlen, -ENOMEM, "out of memory");
	while (rc == 0 && !all_present(o, a, b)) {
		int others = claim(o, a, tries ? b : ahead, idx, &n);

		if (n && tries++ < 2) {
			pthread_mutex_unlock(&o->lock);
			rc = fetch_units(o, idx, n, deadline, err, errlen);
			pthread_mutex_lock(&o->lock);
			pthread_cond_broadcast(&o->cond);
			if (rc && all_present(o, a, b))
				rc = 0; /* only read-ahead failed */
		} else if (n) {
			release_claims_locked(o, idx, n);
			rc = store_errf(err, errlen, -EIO,
					"'%s': bytes fetched by another thread failed",
					o->url.shown);
		} else if (others && wait_others(o, deadline)) {
			rc = store_errf(err, errlen, -ETIMEDOUT, "'%s': no answer in time",
					o->url.shown);
		}
	}
	free(idx);
	return rc;
}

int store_obj_fetch(struct store_obj *o, uint64_t off, uint64_t len, uint64_t ahead, char *err,
		    size_t errlen)
{
	int64_t deadline = store_now_ms() + o->s->timeout_ms;
	uint64_t size = (uint64_t)o->size, end;
	int rc;

	if (len == 0 || off >= size)
		return 0;
	if (len > size - off)
		len = size - off;
	end = ahead > size - off - len ? size : off + len + ahead;
	pthread_mutex_lock(&o->lock);
	rc = ensure_cover(o);
	if (rc)
		store_errf(err, errlen, rc, "out of memory");
	else
		rc = fetch_span(o, unit_at(o, (int64_t)off), unit_at(o, (int64_t)(off + len - 1)),
				unit_at(o, (int64_t)(end - 1)), deadline, err, errlen);
	pthread_mutex_unlock(&o->lock);
	return rc;
}

int store_obj_read(struct store_obj *o, void *buf, size_t len, uint64_t off, char *err,
		   size_t errlen)
{
	ssize_t got;
	int rc;

	if (off > (uint64_t)o->size || len > (uint64_t)o->size - off)
		return store_errf(err, errlen, -EIO, "'%s': read past the end (%lld bytes)",
				  o->url.shown, (long long)o->size);
	rc = store_obj_fetch(o, off, len, 0, err, errlen);
	if (rc)
		return rc;
	got = util_pread_full(o->ce.data_fd, buf, len, (int64_t)off);
	if (got != (ssize_t)len)
		return store_errf(err, errlen, got < 0 ? (int)got : -EIO,
				  "'%s': cannot read the cache file", o->url.shown);
	return 0;
}
