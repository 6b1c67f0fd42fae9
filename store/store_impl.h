/*
 * store_impl.h - the inside of store/, shared by its files: url.c parses
 * and prints object URLs, aws.c reads the S3 configuration, http_parse.c
 * parses what servers answer (pure functions, fuzzed), http.c runs
 * requests with libcurl, cache.c keeps the cache directory, obj.c the
 * objects and their units. Private to store/.
 */
#ifndef CKPTFS_STORE_STORE_IMPL_H
#define CKPTFS_STORE_STORE_IMPL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"

/* errf: write a message (if err) and return code. */
__attribute__((format(printf, 4, 5))) int store_errf(char *err, size_t errlen, int code,
						     const char *fmt, ...);

/* ---------------------------------------------------------------- url.c */

enum store_scheme {
	STORE_S3,
	STORE_HTTP,
	STORE_HTTPS
};

struct aws_cfg;

/* A parsed object URL. Every string is owned (store_url_release). */
struct store_url {
	enum store_scheme scheme;
	char *bucket;  /* s3 only */
	char *key;     /* s3 only: the object key, not encoded */
	char *request; /* the http(s) URL requests go to */
	char *shown;   /* the URL for messages: no query string */
};

/*
 * Parse url (s3://BUCKET/KEY, http://..., https://...). For s3, the
 * request URL is path-style under cfg's endpoint when one is set, else
 * AWS's virtual-hosted style in cfg's region. -EINVAL with a message for
 * a malformed URL (no bucket or key, a control character or space).
 */
int store_url_parse(const char *url, const struct aws_cfg *cfg, struct store_url *out, char *err,
		    size_t errlen);
void store_url_release(struct store_url *u);

/*
 * Append s (n bytes) percent-encoded as S3 wants an object key in a
 * path: unreserved characters and '/' as they are, every other byte as
 * %XX. dst has room for 3 * n + 1 bytes; returns the length written.
 */
size_t store_url_encode_key(char *dst, const char *s, size_t n);

/* ---------------------------------------------------------------- aws.c */

/* The S3 configuration, read once from the environment and the shared
 * credentials file. Strings owned; NULL when not set. */
struct aws_cfg {
	char *endpoint; /* AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, no trailing '/' */
	char *region;   /* never NULL after aws_cfg_load: us-east-1 by default */
	char *access_key;
	char *secret_key; /* with access_key, or neither */
	char *session_token;
	char *ca_bundle; /* AWS_CA_BUNDLE: trust these CAs for https */
};

/* Read the configuration (see store.h). 0, -ENOMEM, or -EINVAL for a
 * credentials file that names the profile but lacks half of a key pair. */
int aws_cfg_load(struct aws_cfg *c, char *err, size_t errlen);

/* Wipe the secrets and free everything. */
void aws_cfg_release(struct aws_cfg *c);

/*
 * From the text of a shared credentials file (INI: [profile] sections,
 * key = value lines, # and ; comments), the values of
 * aws_access_key_id, aws_secret_access_key and aws_session_token in
 * section `profile`, each malloc'd into *out[0..2] (NULL when absent).
 * Lines outside that section are ignored. 0 or -ENOMEM.
 */
int aws_cred_parse(const char *text, size_t len, const char *profile, char *out[3]);

/* --------------------------------------------------------- http_parse.c */

/* Room for a reason a request failed (curl's error buffer is 256). */
#define CURL_ERROR_SIZE_MAX 320

/* The maximum bytes of response headers accepted; more is a lie. */
#define HTTP_MAX_HEADER_BYTES (64 * 1024)

/*
 * Parse a Content-Range value "bytes FIRST-LAST/TOTAL" (TOTAL may be *,
 * then *total = -1). 0, or -EBADMSG for anything else, such as a range
 * with LAST < FIRST or numbers past int64.
 */
int store_http_parse_content_range(const char *v, size_t n, int64_t *first, int64_t *last,
				   int64_t *total);

/* Parse a decimal Content-Length; 0 or -EBADMSG. */
int store_http_parse_length(const char *v, size_t n, int64_t *out);

/*
 * Split a header line "Name: value\r\n" into its name and value (spaces
 * around the value trimmed). 0, or -EBADMSG if there is no colon (a
 * status line, the blank line).
 */
int store_http_split_header(const char *line, size_t n, const char **name, size_t *name_len,
			    const char **value, size_t *value_len);

/* Whether header name (n bytes) is `want` (lower case), ignoring case. */
int store_http_header_is(const char *name, size_t n, const char *want);

/*
 * The <Code> (and <Message>) of an S3 error body, printable ASCII only,
 * written NUL-terminated into code (and msg); "" when there is none.
 */
void store_http_s3_error(const char *body, size_t n, char *code, size_t code_len, char *msg,
			 size_t msg_len);

/* ---------------------------------------------------------------- http.c */

/* One request: a GET of [off, off + len) (len < 0: from off to the end,
 * no Range header when off is 0 too) into fd at fd_off, or into mem. */
struct http_req {
	const struct store_url *url;
	int64_t off, len;
	const char *if_match;      /* a strong ETag: sent as If-Match, required back */
	const char *want_modified; /* else the Last-Modified it must carry */
	int probe;                 /* the opening request: 416 tells the size */
	int fd;                    /* the body goes here at fd_off + ... */
	int64_t fd_off;
	/* the CRC32C of the body in segments, when n_seg > 0: seg_len[i]
	 * bytes each (summing to len), their crcs into seg_crc[i] as the
	 * bytes arrive; both borrowed, one per segment */
	const int64_t *seg_len;
	uint32_t *seg_crc;
	size_t n_seg;
	/* called (if set) once the request has ended for good, its bytes
	 * written and rc final, while the others may still run: lets the
	 * caller use each part as soon as it is in */
	void (*done)(struct http_req *r, void *ctx);
	void *done_ctx;
	/* results */
	long status;
	int64_t total;  /* the object's size from Content-Range/Length, -1 */
	int64_t got;    /* body bytes written */
	char etag[160]; /* as sent, quotes included; "" if none */
	char modified[64];
	char errcode[64]; /* an S3 error's Code, or a short reason */
	char errmsg[CURL_ERROR_SIZE_MAX];
	int rc;        /* 0 or -errno: how it ended */
	int retryable; /* a failure worth trying again */
	/* private to http.c */
	struct http_state *st;
};

/*
 * Run reqs in parallel on at most s's connection count, each retried with
 * backoff while it fails in a way worth retrying (connection trouble,
 * 5xx, 429, a stall), until deadline_ms (CLOCK_MONOTONIC). Each
 * request's rc says how it ended; the return is the first failure (with
 * its message) or 0.
 */
int store_http_run(struct store *s, struct http_req *reqs, size_t n, int64_t deadline_ms, char *err,
		   size_t errlen);

/* Now on CLOCK_MONOTONIC, in milliseconds. */
int64_t store_now_ms(void);

/* libcurl's once-per-process setup and the store's shared connections. */
int store_http_init(struct store *s, char *err, size_t errlen);
void store_http_release(struct store *s);

/* --------------------------------------------------------------- cache.c */

/* One object's files in the cache: DATA (sparse, the object's bytes) and
 * MAP (a header naming the object, then 16-byte records of verified
 * ranges, appended). */
struct cache_entry {
	int data_fd;      /* O_RDWR, owned */
	int map_fd;       /* O_RDWR|O_APPEND, owned; -1 for a private entry */
	char *data_path;  /* owned; NULL for a private (unnamed) entry */
	uint64_t map_pos; /* how far the records have been read */
	uint64_t map_hdr; /* where the records start */
};

/* Open (or create) the entry for key (url, validator, size) of an object
 * of `size` bytes. */
int store_cache_open(struct store *s, const char *key, int64_t size, struct cache_entry *out,
		     char *err, size_t errlen);
void store_cache_close(struct cache_entry *e);

/* Call mark(ctx, off, len) for each record appended since the last call. */
int store_cache_read_marks(struct cache_entry *e, void (*mark)(void *ctx, int64_t off, int64_t len),
			   void *ctx);

/* Append a record: [off, off + len) is present and verified. */
int store_cache_add_mark(struct cache_entry *e, int64_t off, int64_t len);

/*
 * Take write locks (OFD, on a new open file description of the entry's
 * data file, returned in *lock_fd) on each range of the entry, waiting
 * for other processes fetching them until deadline_ms. Closing *lock_fd
 * releases them.
 */
int store_cache_lock_ranges(const struct cache_entry *e, const int64_t (*ranges)[2], size_t n,
			    int64_t deadline_ms, int *lock_fd);

/* Forget bytes that did not verify: punch [off, off + len) out. */
void store_cache_punch(const struct cache_entry *e, int64_t off, int64_t len);

/* After writing: evict least recently used entries while the cache is
 * over its cap (never the entry just used, `keep`). */
void store_cache_trim(struct store *s, const struct cache_entry *keep);

/* ----------------------------------------------------------- prefetch.c */

/*
 * Run run(arg) on one of the store's background threads, soon; or, when
 * the queue is full or the store is being freed, call cancel(arg) (on the
 * caller's thread, or store_free's). Exactly one of the two is called.
 */
void store_prefetch_submit(struct store *s, void (*run)(void *), void (*cancel)(void *), void *arg);
void store_prefetch_init(struct store *s);
/* Cancel the queued jobs, wait for the running ones, stop the threads. */
void store_prefetch_stop(struct store *s);

/* --------------------------------------------------------- struct store */

struct store {
	struct aws_cfg aws;
	char *cache_dir; /* owned */
	int64_t cache_size;
	int timeout_ms;
	int connections;
	int dir_fd; /* the cache directory, O_PATH|O_DIRECTORY */
	/* http.c: the connection cache shared by all requests */
	void *share;              /* CURLSH * */
	pthread_mutex_t locks[8]; /* one per curl_lock_data kind */
	struct {
		uint64_t requests, bytes, cache_hits, verify_fails, retries, prefetched;
	} stats; /* updated with __atomic builtins */
	struct {
		pthread_mutex_t lock; /* guards the rest */
		pthread_cond_t cond;  /* a job was queued, or stop */
		struct prefetch_job *head, *tail;
		size_t pending;
		pthread_t threads[2];
		int n_threads;
		pid_t pid; /* of the process that started them */
		int stop;
	} pf; /* prefetch.c: background fetches */
};

#define STORE_STAT_ADD(s, field, n) __atomic_add_fetch(&(s)->stats.field, (n), __ATOMIC_RELAXED)

#endif /* CKPTFS_STORE_STORE_IMPL_H */
