/*
 * http.c - range GETs with libcurl: many at once on one thread (the multi
 * interface), connections kept alive and shared between fetches (a
 * CURLSH), S3 requests signed with SigV4 by libcurl, every answer checked
 * before its bytes are written (status, Content-Range, validator, no more
 * bytes than asked, bounded headers), failures worth it retried with
 * backoff until the fetch's deadline.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */

#include "store/store_impl.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

/* A request's private state while it runs. */
struct http_state {
	CURL *h;
	struct curl_slist *hdrs;
	size_t header_bytes;
	int checked;                         /* the answer's head was checked (first body byte) */
	int lie;                             /* why the transfer was cut: see lie_text */
	int64_t cr_first, cr_last, cr_total; /* Content-Range, or -1s */
	int64_t length;                      /* Content-Length, or -1 */
	char body[2048];                     /* an error answer's body */
	size_t body_len;
	int tries;
	int64_t not_before; /* retry time, ms */
	int done;
	char curl_err[CURL_ERROR_SIZE];
	/* body bytes not yet written to fd: written WRITE_CHUNK at a time,
	 * since curl hands them over 16 KiB at a time, and a cache file
	 * written in small pieces reads back at half the speed */
	char *wbuf; /* owned; WRITE_CHUNK bytes */
	size_t wlen;
	int write_failed;
	/* the segment being checksummed (see http_req.seg_len) */
	size_t seg;
	int64_t seg_done;
	uint32_t seg_crc;
};

#define WRITE_CHUNK ((size_t)1 << 20)

enum {
	LIE_NONE,
	LIE_RANGE,
	LIE_FULL,
	LIE_MORE,
	LIE_HEADERS,
	LIE_VERSION,
	LIE_IO
};

static const char *const lie_text[] = {
	[LIE_RANGE] = "answered a different range than asked",
	[LIE_FULL] = "ignored the Range header (200 instead of 206)",
	[LIE_MORE] = "sent more bytes than asked",
	[LIE_HEADERS] = "sent over 64 KiB of headers",
	[LIE_VERSION] = "has changed since it was opened (its validator differs)",
	[LIE_IO] = "could not be written to the cache",
};

int64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --------------------------------------------------------- shared state */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *p)
{
	struct store *s = p;

	(void)h;
	(void)a;
	pthread_mutex_lock(&s->locks[(unsigned)d % 8]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *p)
{
	struct store *s = p;

	(void)h;
	pthread_mutex_unlock(&s->locks[(unsigned)d % 8]);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int store_http_init(struct store *s, char *err, size_t errlen)
{
	CURLSH *sh;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return store_errf(err, errlen, -EIO, "libcurl: %s", curl_easy_strerror(global_rc));
	for (int i = 0; i < 8; i++)
		pthread_mutex_init(&s->locks[i], NULL);
	sh = curl_share_init();
	if (!sh)
		return store_errf(err, errlen, -ENOMEM, "out of memory");
	curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(sh, CURLSHOPT_USERDATA, s);
	curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	s->share = sh;
	return 0;
}

void store_http_release(struct store *s)
{
	if (s->share)
		curl_share_cleanup(s->share);
	s->share = NULL;
	for (int i = 0; i < 8; i++)
		pthread_mutex_destroy(&s->locks[i]);
}

/* -------------------------------------------------- an answer, checked */

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* The object size a 416 answer gives: "bytes STAR/N". */
static void unsatisfied_total(struct http_state *st, const char *v, size_t n)
{
	if (n <= 8 || memcmp(v, "bytes */", 8) ||
	    store_http_parse_length(v + 8, n - 8, &st->cr_total))
		st->cr_total = -1;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *p)
{
	struct http_req *r = p;
	struct http_state *st = r->st;
	size_t n = size * nmemb, nl, vl;
	const char *name, *v;

	st->header_bytes += n;
	if (st->header_bytes > HTTP_MAX_HEADER_BYTES) {
		st->lie = LIE_HEADERS;
		return 0;
	}
	if (n >= 5 && !memcmp(line, "HTTP/", 5)) { /* a new answer (redirects) */
		r->etag[0] = r->modified[0] = '\0';
		st->cr_first = st->cr_last = st->cr_total = st->length = -1;
		return n;
	}
	if (store_http_split_header(line, n, &name, &nl, &v, &vl))
		return n;
	if (store_http_header_is(name, nl, "etag"))
		copy_value(r->etag, sizeof(r->etag), v, vl);
	else if (store_http_header_is(name, nl, "last-modified"))
		copy_value(r->modified, sizeof(r->modified), v, vl);
	else if (store_http_header_is(name, nl, "content-length") &&
		 store_http_parse_length(v, vl, &st->length))
		st->length = -1;
	else if (store_http_header_is(name, nl, "content-range") &&
		 store_http_parse_content_range(v, vl, &st->cr_first, &st->cr_last, &st->cr_total))
		unsatisfied_total(st, v, vl);
	return n;
}

/* Whether a 2xx answer to r is the bytes asked for; sets st->lie. */
static int check_head(struct http_req *r, long status)
{
	struct http_state *st = r->st;
	int ranged = r->off > 0 || r->len >= 0;

	r->status = status;
	if (status < 200 || status > 299)
		return 1;
	if (ranged && status != 206)
		st->lie = LIE_FULL;
	else if (ranged &&
		 (st->cr_first != r->off || (r->len >= 0 && st->cr_last != r->off + r->len - 1)))
		st->lie = LIE_RANGE;
	else if (!r->probe && r->if_match && strcmp(r->etag, r->if_match))
		st->lie = LIE_VERSION;
	else if (!r->probe && !r->if_match && r->want_modified &&
		 strcmp(r->modified, r->want_modified))
		st->lie = LIE_VERSION;
	r->total = ranged ? st->cr_total : st->length;
	return st->lie == LIE_NONE;
}

/* Write what the buffer holds (it ends at r->got). 0 or -errno. */
static int flush_body(struct http_req *r)
{
	struct http_state *st = r->st;
	int rc = 0;

	if (st->wlen && !st->write_failed)
		rc = util_pwrite_full(r->fd, st->wbuf, st->wlen,
				      r->fd_off + r->got - (int64_t)st->wlen);
	st->write_failed |= rc != 0;
	st->wlen = 0;
	return rc;
}

/*
 * Checksum n body bytes into the request's segments while they are in
 * the CPU's cache: the bytes are then never read back to be verified.
 */
static void crc_body(struct http_req *r, const char *data, size_t n)
{
	struct http_state *st = r->st;

	while (n && st->seg < r->n_seg) {
		int64_t room = r->seg_len[st->seg] - st->seg_done;
		size_t k = (int64_t)n < room ? n : (size_t)room;

		st->seg_crc = util_crc32c(st->seg_crc, data, k);
		st->seg_done += (int64_t)k;
		data += k;
		n -= k;
		if (st->seg_done == r->seg_len[st->seg]) {
			r->seg_crc[st->seg++] = st->seg_crc;
			st->seg_done = 0;
			st->seg_crc = 0;
		}
	}
}

/* Take n body bytes into the write buffer, writing it out when full. */
static int buffer_body(struct http_req *r, const char *data, size_t n)
{
	struct http_state *st = r->st;

	if (!st->wbuf && !(st->wbuf = malloc(WRITE_CHUNK)))
		return -ENOMEM;
	while (n) {
		size_t k = WRITE_CHUNK - st->wlen < n ? WRITE_CHUNK - st->wlen : n;

		memcpy(st->wbuf + st->wlen, data, k);
		st->wlen += k;
		r->got += (int64_t)k;
		data += k;
		n -= k;
		if (st->wlen == WRITE_CHUNK && flush_body(r))
			return -EIO;
	}
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *p)
{
	struct http_req *r = p;
	struct http_state *st = r->st;
	size_t n = size * nmemb;
	long status = 0;

	if (!st->checked) {
		curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &status);
		st->checked = 1;
		if (!check_head(r, status))
			return 0;
	}
	if (r->status < 200 || r->status > 299) { /* keep an error's start */
		size_t room = sizeof(st->body) - st->body_len;

		memcpy(st->body + st->body_len, data, n < room ? n : room);
		st->body_len += n < room ? n : room;
		return n;
	}
	if (r->len >= 0 && r->got + (int64_t)n > r->len) {
		st->lie = LIE_MORE;
		return 0;
	}
	crc_body(r, data, n);
	if (r->fd >= 0) {
		if (buffer_body(r, data, n)) {
			st->lie = LIE_IO;
			return 0;
		}
	} else {
		r->got += (int64_t)n;
	}
	return n;
}

/* --------------------------------------------------- starting a request */

static int add_header(struct http_state *st, const char *h)
{
	struct curl_slist *l = curl_slist_append(st->hdrs, h);

	if (!l)
		return -ENOMEM;
	st->hdrs = l;
	return 0;
}

/* The headers of r: Range, If-Match, S3's payload hash and token. */
static int set_headers(const struct store *s, struct http_req *r)
{
	struct http_state *st = r->st;
	char buf[256];
	int rc = 0;

	curl_slist_free_all(st->hdrs);
	st->hdrs = NULL;
	if (r->if_match && !r->probe && strlen(r->if_match) < 200) {
		snprintf(buf, sizeof(buf), "If-Match: %s", r->if_match);
		rc = add_header(st, buf);
	}
	if (rc == 0 && r->url->scheme == STORE_S3)
		rc = add_header(st, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	if (rc == 0 && r->url->scheme == STORE_S3 && s->aws.session_token && s->aws.access_key) {
		size_t n = strlen(s->aws.session_token) + 32;
		char *h = malloc(n);

		if (!h)
			return -ENOMEM;
		snprintf(h, n, "x-amz-security-token: %s", s->aws.session_token);
		rc = add_header(st, h);
		explicit_bzero(h, n);
		free(h);
	}
	return rc;
}

static void set_range(CURL *h, const struct http_req *r)
{
	char range[64];

	if (r->off == 0 && r->len < 0)
		return;
	if (r->len < 0)
		snprintf(range, sizeof(range), "%lld-", (long long)r->off);
	else
		snprintf(range, sizeof(range), "%lld-%lld", (long long)r->off,
			 (long long)(r->off + r->len - 1));
	curl_easy_setopt(h, CURLOPT_RANGE, range);
}

/* S3 with keys: signed (SigV4), redirects not followed (they would
 * carry the signature elsewhere); otherwise redirects within http(s). */
static void set_auth(const struct store *s, CURL *h, const struct http_req *r)
{
	char sigv4[128];

	if (r->url->scheme == STORE_S3 && s->aws.access_key) {
		snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", s->aws.region);
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, s->aws.access_key);
		curl_easy_setopt(h, CURLOPT_PASSWORD, s->aws.secret_key);
		return;
	}
	if (r->url->scheme != STORE_S3) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	}
}

static int start(struct store *s, CURLM *m, struct http_req *r, int64_t deadline)
{
	struct http_state *st = r->st;
	int64_t left = deadline - store_now_ms();
	CURL *h = curl_easy_init();

	if (!h || set_headers(s, r))
		return -ENOMEM;
	if (left < 1)
		left = 1;
	st->h = h;
	st->checked = 0;
	st->lie = LIE_NONE;
	st->header_bytes = st->body_len = st->wlen = 0;
	st->write_failed = 0;
	st->seg = 0;
	st->seg_done = 0;
	st->seg_crc = 0;
	st->cr_first = st->cr_last = st->cr_total = st->length = -1;
	r->got = 0;
	r->status = 0;
	curl_easy_setopt(h, CURLOPT_URL, r->url->request);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SHARE, s->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ckptfs/" CKPTFS_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, st->hdrs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, st->curl_err);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(left < 10000 ? left : 10000));
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
			 (long)(left / 1000 < 10 ? left / 1000 + 1 : 10));
	curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	if (s->aws.ca_bundle)
		curl_easy_setopt(h, CURLOPT_CAINFO, s->aws.ca_bundle);
	set_range(h, r);
	set_auth(s, h, r);
	st->curl_err[0] = '\0';
	STORE_STAT_ADD(s, requests, 1);
	if (st->tries++)
		STORE_STAT_ADD(s, retries, 1);
	return curl_multi_add_handle(m, h) == CURLM_OK ? 0 : -ENOMEM;
}

/* ------------------------------------------------- how a request ended */

static int retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR: return 1;
	default: return 0;
	}
}

/* The rc and message fields of a finished request. */
static void classify(struct http_req *r, CURLcode c)
{
	struct http_state *st = r->st;
	long status = 0;

	curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &status);
	r->status = status;
	r->retryable = 0;
	r->errcode[0] = r->errmsg[0] = '\0';
	if (st->lie) {
		r->rc = st->lie == LIE_IO ? -EIO : -EBADMSG;
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", lie_text[st->lie]);
		return;
	}
	if (c != CURLE_OK) {
		r->rc = c == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		r->retryable = retryable_curl(c);
		snprintf(r->errmsg, sizeof(r->errmsg), "%s",
			 st->curl_err[0] ? st->curl_err : curl_easy_strerror(c));
		return;
	}
	if (!st->checked && !check_head(r, status)) {
		r->rc = -EBADMSG; /* a 2xx with no body: checked here */
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", lie_text[st->lie]);
		return;
	}
	if (status >= 200 && status <= 299) {
		int whole = r->len < 0 || r->got == r->len;

		r->rc = whole ? 0 : -EIO;
		r->retryable = !whole;
		if (!whole)
			snprintf(r->errmsg, sizeof(r->errmsg), "the answer ended early");
		return;
	}
	store_http_s3_error(st->body, st->body_len, r->errcode, sizeof(r->errcode), r->errmsg,
			    sizeof(r->errmsg));
	r->rc = status == 404                    ? -ENOENT
		: status == 401 || status == 403 ? -EACCES
		: status == 416 && r->probe      ? 0
						 : -EIO;
	if (r->rc == 0)
		r->total = st->cr_total;
	r->retryable = status >= 500 || status == 429 || status == 408;
	if (status == 412 && !r->errmsg[0])
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", lie_text[LIE_VERSION]);
}

static void finish_handle(CURLM *m, struct http_req *r)
{
	/* what arrived is written even if the transfer failed: not marked
	 * present, it costs nothing, and the next try rewrites it */
	if (r->fd >= 0 && flush_body(r) && r->rc == 0) {
		r->rc = -EIO;
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", lie_text[LIE_IO]);
	}
	curl_multi_remove_handle(m, r->st->h);
	curl_easy_cleanup(r->st->h);
	r->st->h = NULL;
}

/* The message for a failed request. */
static int describe(const struct http_req *r, char *err, size_t errlen)
{
	const char *what = r->url->shown;

	if (r->status >= 300 && !r->errmsg[0] && !r->errcode[0])
		return store_errf(err, errlen, r->rc, "'%s': HTTP %ld", what, r->status);
	if (r->status >= 300 && (r->rc != -EBADMSG))
		return store_errf(err, errlen, r->rc, "'%s': HTTP %ld%s%s%s%s%s", what, r->status,
				  r->errcode[0] ? " " : "", r->errcode, r->errmsg[0] ? " (" : "",
				  r->errmsg, r->errmsg[0] ? ")" : "");
	return store_errf(err, errlen, r->rc == -EBADMSG ? -EIO : r->rc,
			  "'%s': %s%s (after %d tr%s)", what,
			  r->rc == -EBADMSG ? "the server " : "", r->errmsg, r->st->tries,
			  r->st->tries == 1 ? "y" : "ies");
}

/* ------------------------------------------------------ the multi loop */

static int64_t backoff_ms(int tries)
{
	int64_t b = 50LL << (tries < 6 ? tries : 6);

	return b + rand() % (b / 2 + 1);
}

/* Start what may start now; returns the number running. */
static int start_ready(struct store *s, CURLM *m, struct http_req *reqs, size_t n, int running,
		       int64_t deadline, int *rc)
{
	int64_t now = store_now_ms();

	for (size_t i = 0; i < n && running < s->connections; i++) {
		struct http_state *st = reqs[i].st;

		if (st->done || st->h || st->not_before > now)
			continue;
		*rc = start(s, m, &reqs[i], deadline);
		if (*rc)
			return running;
		running++;
	}
	return running;
}

/* A finished transfer: done, or scheduled again. */
static int on_done(struct store *s, CURLM *m, struct http_req *r, CURLcode c, int64_t deadline)
{
	classify(r, c);
	finish_handle(m, r);
	STORE_STAT_ADD(s, bytes, (uint64_t)r->got);
	if (r->rc && r->retryable) {
		int64_t when = store_now_ms() + backoff_ms(r->st->tries);

		if (when < deadline) {
			r->st->not_before = when;
			return 0;
		}
	}
	r->st->done = 1;
	if (r->done)
		r->done(r, r->done_ctx);
	return 1;
}

static int run_loop(struct store *s, CURLM *m, struct http_req *reqs, size_t n, int64_t deadline)
{
	size_t done = 0;
	int running = 0, rc = 0;

	while (done < n && rc == 0) {
		CURLMsg *msg;
		int left, still;

		running = start_ready(s, m, reqs, n, running, deadline, &rc);
		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct http_req *r;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			running--;
			done += (size_t)on_done(s, m, r, msg->data.result, deadline);
		}
		if (done < n && store_now_ms() > deadline + 1000)
			rc = -ETIMEDOUT; /* curl's own timeouts should have ended it */
		if (done < n && rc == 0)
			curl_multi_poll(m, NULL, 0, running ? 100 : 20, NULL);
	}
	return rc;
}

int store_http_run(struct store *s, struct http_req *reqs, size_t n, int64_t deadline_ms, char *err,
		   size_t errlen)
{
	struct http_state *st = calloc(n ? n : 1, sizeof(*st));
	CURLM *m = curl_multi_init();
	int rc;

	if (!st || !m) {
		free(st);
		if (m)
			curl_multi_cleanup(m);
		return store_errf(err, errlen, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		reqs[i].st = &st[i];
		reqs[i].rc = -EIO;
		reqs[i].total = -1;
	}
	rc = run_loop(s, m, reqs, n, deadline_ms);
	for (size_t i = 0; i < n; i++) {
		if (st[i].h)
			finish_handle(m, &reqs[i]);
		curl_slist_free_all(st[i].hdrs);
		free(st[i].wbuf);
		if (rc == 0 && reqs[i].rc)
			rc = describe(&reqs[i], err, errlen);
		reqs[i].st = NULL;
	}
	if (rc == -ENOMEM)
		store_errf(err, errlen, rc, "out of memory");
	else if (rc == -ETIMEDOUT && n && reqs[0].rc == -EIO)
		store_errf(err, errlen, rc, "'%s': no answer in time", reqs[0].url->shown);
	curl_multi_cleanup(m);
	free(st);
	return rc;
}
