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
	uint8_t verified;  /* checked (by its crc or verify); else by version only */
	uint8_t plain_crc; /* checked by the CRC32C of its bytes, crc */
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
				   .verified = 1,
				   .plain_crc = in->plain_crc != 0 };
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

/*
 * A fetch's requests, and the segments their bodies are checksummed in:
 * a segment is the part of one unit that one request carries, so the
 * CRC32C of a unit is its segments' crcs joined.
 */
struct fetch {
	struct store_obj *o;
	const size_t *idx; /* the claimed units (borrowed), n of them */
	size_t n;
	struct http_req *parts; /* owned */
	size_t n_parts;
	int64_t *seg_off; /* owned, ascending; seg_len, seg_crc alike */
	int64_t *seg_len;
	uint32_t *seg_crc;
	size_t n_seg;
	/* a unit is settled (checked, marked, its state set) as soon as the
	 * last request carrying it ends, so readers waiting for it go on
	 * while the rest of the batch is still on its way */
	size_t *first, *last; /* owned, per part: the claimed units it carries */
	size_t *left;         /* owned, per claimed unit: parts still running */
	int8_t *ok;           /* owned, per claimed unit: -1 unsettled, 0, 1 */
	int failed;           /* a unit did not verify: why is in msg */
	char msg[512];
};

static void fetch_release(struct fetch *f)
{
	free(f->parts);
	free(f->seg_off);
	free(f->seg_len);
	free(f->seg_crc);
	free(f->first);
	free(f->last);
	free(f->left);
	free(f->ok);
}

static void part_done(struct http_req *r, void *ctx);

static struct http_req new_part(struct store_obj *o, int64_t off)
{
	return (struct http_req){ .url = &o->url,
				  .off = off,
				  .if_match = o->etag[0] ? o->etag : NULL,
				  .want_modified = o->modified[0] ? o->modified : NULL,
				  .fd = o->ce.data_fd,
				  .fd_off = off };
}

/*
 * The requests for the claimed units idx[0..n) (ascending): neighbours
 * share a request of at most PART_MAX bytes, a larger unit is spread over
 * several (fetched in parallel). 0 or -ENOMEM.
 */
static int make_parts(struct store_obj *o, const size_t *idx, size_t n, struct fetch *f)
{
	size_t most = 0;

	for (size_t i = 0; i < n; i++) /* a segment (and a part) per PART_MAX at most */
		most += (size_t)((o->u[idx[i]].len + PART_MAX - 1) / PART_MAX);
	*f = (struct fetch){ .o = o, .idx = idx, .n = n };
	f->parts = calloc(most ? most : 1, sizeof(*f->parts));
	f->seg_off = calloc(most ? most : 1, sizeof(*f->seg_off));
	f->seg_len = calloc(most ? most : 1, sizeof(*f->seg_len));
	f->seg_crc = calloc(most ? most : 1, sizeof(*f->seg_crc));
	f->first = calloc(most ? most : 1, sizeof(*f->first));
	f->last = calloc(most ? most : 1, sizeof(*f->last));
	f->left = calloc(n ? n : 1, sizeof(*f->left));
	f->ok = malloc(n ? n : 1);
	if (!f->parts || !f->seg_off || !f->seg_len || !f->seg_crc || !f->first || !f->last ||
	    !f->left || !f->ok)
		return -ENOMEM;
	memset(f->ok, -1, n);
	for (size_t i = 0; i < n; i++) {
		const struct unit *u = &o->u[idx[i]];

		for (int64_t off = u->off, len; off < u->off + u->len; off += len) {
			struct http_req *last = f->n_parts ? &f->parts[f->n_parts - 1] : NULL;

			len = u->off + u->len - off < PART_MAX ? u->off + u->len - off : PART_MAX;
			if (!last || last->off + last->len != off || last->len + len > PART_MAX) {
				f->parts[f->n_parts] = new_part(o, off);
				f->first[f->n_parts] = i;
				last = &f->parts[f->n_parts++];
				last->seg_len = &f->seg_len[f->n_seg];
				last->seg_crc = &f->seg_crc[f->n_seg];
				last->done = part_done;
				last->done_ctx = f;
			}
			f->last[f->n_parts - 1] = i;
			f->left[i]++;
			last->len += len;
			last->n_seg++;
			f->seg_off[f->n_seg] = off;
			f->seg_len[f->n_seg++] = len;
		}
	}
	return 0;
}

/* The CRC32C of unit u from the segments that carried it (it arrived). */
static uint32_t unit_crc(const struct fetch *f, const struct unit *u)
{
	size_t lo = 0, hi = f->n_seg;
	uint32_t crc = 0;

	while (lo < hi) { /* the first segment at or after u->off */
		size_t mid = lo + (hi - lo) / 2;

		if (f->seg_off[mid] < u->off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < f->n_seg && f->seg_off[i] < u->off + u->len; i++)
		crc = i == lo ? f->seg_crc[i]
			      : util_crc32c_combine(crc, f->seg_crc[i], (uint64_t)f->seg_len[i]);
	return crc;
}

/* Whether every part overlapping [off, off + len) arrived. */
static int arrived(const struct http_req *r, size_t n, int64_t off, int64_t len)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].rc && r[i].off < off + len && off < r[i].off + r[i].len)
			return 0;
	return 1;
}

/* Whether unit u's bytes are right: by the crc of what arrived, or read
 * back from the cache file by verify (why: the reason they are not). */
static int unit_ok(struct store_obj *o, const struct fetch *f, const struct unit *u, char *why,
		   size_t whylen)
{
	struct store_unit su = { u->off, u->len, u->count, u->crc, u->tag, 0 };
	uint32_t got;

	if (!u->verified)
		return 1;
	if (!u->plain_crc)
		return !o->verify || o->verify(&su, o->ce.data_fd, why, whylen) == 0;
	got = unit_crc(f, u);
	if (got != u->crc)
		snprintf(why, whylen, "stored %08x, fetched bytes give %08x", u->crc, got);
	return got == u->crc;
}

/* Check unit u's bytes; 0 or -EIO with a message (and its bytes punched). */
static int check_unit(struct store_obj *o, const struct fetch *f, const struct unit *u, char *err,
		      size_t errlen)
{
	char why[256] = "";

	if (unit_ok(o, f, u, why, sizeof(why)))
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
 * Settle claimed unit k (its requests have ended): verify what arrived,
 * record it, set its state, and wake the threads waiting for it.
 */
static void settle_unit(struct fetch *f, size_t k)
{
	struct store_obj *o = f->o;
	struct unit *u = &o->u[f->idx[k]];
	char why[sizeof(f->msg)];
	int ok = u->state == PRESENT;

	if (!ok && arrived(f->parts, f->n_parts, u->off, u->len)) {
		ok = check_unit(o, f, u, why, sizeof(why)) == 0;
		if (!ok && !f->failed++)
			memcpy(f->msg, why, sizeof(why));
	}
	if (ok && u->state != PRESENT)
		store_cache_add_mark(&o->ce, u->off, u->len);
	pthread_mutex_lock(&o->lock);
	u->state = ok ? PRESENT : MISSING;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	f->ok[k] = (int8_t)ok;
}

/* http_req.done of a part: settle the units it was the last part of. */
static void part_done(struct http_req *r, void *ctx)
{
	struct fetch *f = ctx;
	size_t p = (size_t)(r - f->parts);

	for (size_t k = f->first[p]; k <= f->last[p]; k++)
		if (--f->left[k] == 0)
			settle_unit(f, k);
}

/*
 * After the parts ran (rc: how): settle what no part did (a run that
 * ended early) and return the first error, with its message.
 */
static int settle(struct fetch *f, int rc, char *err, size_t errlen)
{
	int bad = 0;

	for (size_t k = 0; k < f->n; k++) {
		if (f->ok[k] < 0)
			settle_unit(f, k);
		bad |= !f->ok[k];
	}
	if (rc == 0 && bad)
		rc = f->failed ? store_errf(err, errlen, -EIO, "%s", f->msg)
			       : store_errf(err, errlen, -EIO, "'%s': a transfer failed",
					    f->o->url.shown);
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
	struct fetch f = { 0 };
	size_t n_runs, all = n;
	int lock_fd = -1, rc, made = 0;

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
		rc = make_parts(o, idx, n, &f);
		made = rc == 0;
		if (rc)
			store_errf(err, errlen, rc, "out of memory");
	}
	if (rc == 0 && f.n_parts)
		rc = store_http_run(o->s, f.parts, f.n_parts, deadline, err, errlen);
	if (lock_fd < 0 && o->ce.data_path && rc) /* never got to fetch */
		release_claims(o, idx, all);
	else if (!made)
		release_claims(o, idx, n);
	else
		rc = settle(&f, rc, err, errlen);
	if (lock_fd >= 0)
		close(lock_fd);
	if (f.n_parts)
		store_cache_trim(o->s, &o->ce);
	fetch_release(&f);
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

int store_obj_complete(struct store_obj *o)
{
	int done;

	pthread_mutex_lock(&o->lock);
	done = ensure_cover(o) == 0 && (o->n == 0 || (store_cache_read_marks(&o->ce, apply_mark, o),
						      all_present(o, 0, o->n - 1)));
	pthread_mutex_unlock(&o->lock);
	return done;
}

/* A background fetch: claimed units of o (a reference of its own). */
struct prefetch {
	struct store_obj *o;
	size_t *idx; /* owned */
	size_t n;
};

static void prefetch_end(struct prefetch *j)
{
	pthread_mutex_lock(&j->o->lock);
	pthread_cond_broadcast(&j->o->cond); /* waiters fetch what failed */
	pthread_mutex_unlock(&j->o->lock);
	store_obj_close(j->o);
	free(j->idx);
	free(j);
}

static void prefetch_run(void *p)
{
	struct prefetch *j = p;
	struct store_obj *o = j->o;

	if (fetch_units(o, j->idx, j->n, store_now_ms() + o->s->timeout_ms, NULL, 0) == 0)
		STORE_STAT_ADD(o->s, prefetched, j->n);
	prefetch_end(j);
}

static void prefetch_cancel(void *p)
{
	struct prefetch *j = p;

	release_claims(j->o, j->idx, j->n);
	prefetch_end(j);
}

void store_obj_prefetch(struct store_obj *o, uint64_t off, uint64_t len)
{
	uint64_t size = (uint64_t)o->size;
	struct prefetch *j = calloc(1, sizeof(*j));
	size_t a, b;

	if (!j || len == 0 || off >= size) {
		free(j);
		return;
	}
	if (len > size - off)
		len = size - off;
	pthread_mutex_lock(&o->lock);
	if (ensure_cover(o) == 0) {
		a = unit_at(o, (int64_t)off);
		b = unit_at(o, (int64_t)(off + len - 1));
		j->idx = malloc((b - a + 1) * sizeof(*j->idx));
		if (j->idx)
			claim(o, a, b, j->idx, &j->n);
	}
	pthread_mutex_unlock(&o->lock);
	if (j->n == 0) {
		free(j->idx);
		free(j);
		return;
	}
	j->o = store_obj_ref(o);
	store_prefetch_submit(o->s, prefetch_run, prefetch_cancel, j);
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
