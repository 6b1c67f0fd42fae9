/*
 * store.h - the bytes of a remote object (s3://, https://, http://) as a
 * local file descriptor: fetched by range on demand, verified unit by
 * unit before anything may read them, kept in a local cache that several
 * processes share and that survives restarts.
 *
 * The idea: everything above (bundle/, view/, fs/, tfplugin/) reads
 * sources through file descriptors: pread, splice, copy_file_range. A
 * remote object gets one too, the fd of its cache file, a sparse file as
 * long as the object. Before reading [off, off + len) of it a caller asks
 * store_obj_fetch() to make that range present; from then on the bytes
 * there are the object's, checked, and any fd reader may use them.
 *
 * What "checked" means is the caller's: store_obj_set_units() gives the
 * object's verification units (a checkpoint's tensors with their CRC32C)
 * and a function that checks one. A unit is fetched whole (a read of one
 * byte of a tensor fetches the tensor), written to the cache file,
 * verified there, and only then marked present; a unit that fails stays
 * missing, its bytes are punched out of the file, and the read fails with
 * -EIO. Bytes no unit covers are checked by the object's pinned version
 * only (see below).
 *
 * Versions: opening an object pins its ETag (or, without one, its size
 * and Last-Modified). Every request carries If-Match and every answer's
 * validator is compared with the pinned one, so an object replaced after
 * opening is an error naming it, never bytes of two versions. The cache
 * keys an object by URL and validator, so a new version is a new entry.
 *
 * Errors: 0 or a negative errno, with a message in the caller's buffer
 * (err, errlen; may be NULL): -ENOENT no such object (404), -EACCES
 * refused (401, 403), -EIO a transfer failed or its bytes did not verify,
 * -ETIMEDOUT no answer within the store's timeout, -EINVAL a malformed
 * URL, -ENOMEM. Messages name the URL (a query string shown as "?...":
 * pre-signed URLs carry signatures there) and never a secret.
 *
 * Threads: a store and its objects may be used from any number of
 * threads at once; fetches of different units of one object run in
 * parallel, a unit is fetched once.
 */
#ifndef CKPTFS_STORE_STORE_H
#define CKPTFS_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Whether path names a remote object (s3://, http:// or https://). */
int store_is_url(const char *path);

/* A size as users write it: bytes, or a number and K, M, G or T (powers
 * of 1024; "GiB" and "GB" read as G). 0 or -EINVAL. */
int store_parse_size(const char *s, int64_t *out);

/* ------------------------------------------------------------ a store */

struct store_options {
	/* the cache's directory; NULL: $CKPTFS_CACHE_DIR, else
	 * $XDG_CACHE_HOME/ckptfs, else $HOME/.cache/ckptfs (created) */
	const char *cache_dir;
	/* cap on the cache's disk use in bytes, least recently used objects
	 * evicted above it; 0: $CKPTFS_CACHE_SIZE, else 10 GiB */
	int64_t cache_size;
	/* how long a fetch may take, retries included, before it fails with
	 * -ETIMEDOUT; 0: $CKPTFS_REMOTE_TIMEOUT seconds, else 30 s */
	int timeout_ms;
	/* parallel connections per fetch; 0: 16 */
	int connections;
};

struct store;

/*
 * A store: the cache directory, the S3 configuration read from the
 * environment (see aws.c: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
 * AWS_REGION, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,
 * AWS_SHARED_CREDENTIALS_FILE, AWS_CA_BUNDLE) and a pool of connections.
 * opt may be NULL (all defaults). The cache directory is created if
 * missing; it must be a directory the caller may write. On success *out
 * is freed by store_free() after every object of it is closed.
 */
int store_new(const struct store_options *opt, struct store **out, char *err, size_t errlen);
void store_free(struct store *s);

/* Whether the store holds a secret (an S3 secret key or session token):
 * the caller may then want the process kept out of core dumps. */
int store_has_secrets(const struct store *s);

/* The cache directory in use. Owned by s. */
const char *store_cache_dir(const struct store *s);

/* ----------------------------------------------------------- objects */

struct store_obj;

/*
 * Open the object at url: one HEAD request, which pins its size and
 * version, and the object's cache entry. -ENOENT when there is no such
 * object. On success *out is closed with store_obj_close(); it holds a
 * reference to s.
 */
int store_obj_open(struct store *s, const char *url, struct store_obj **out, char *err,
		   size_t errlen);

/* Another reference to o (returns o); each is dropped by store_obj_close(). */
struct store_obj *store_obj_ref(struct store_obj *o);

/* Drop a reference; the last one closes the cache file. NULL is ignored. */
void store_obj_close(struct store_obj *o);

/* The object's URL as opened, size, and the fd of its cache file (valid
 * until the last store_obj_close(); read only what was fetched). */
const char *store_obj_url(const struct store_obj *o);
int64_t store_obj_size(const struct store_obj *o);
int store_obj_fd(const struct store_obj *o);

/*
 * A verification unit: the object's bytes [off, off + len) are checked
 * as a whole: by their CRC32C (plain_crc), or by the verify function,
 * which gets the unit and the fd to pread them from, and returns 0 when
 * they are right, -EBADMSG when not (writing why into err). tag is the
 * caller's (a tensor's dtype, say), count too (its element count).
 */
struct store_unit {
	int64_t off;
	int64_t len;
	int64_t count;
	uint32_t crc;
	int32_t tag;
	/* 1: the unit is right iff the CRC32C of its bytes is crc; the store
	 * checks that itself as the bytes arrive, with no read back and no
	 * call of verify. 0: verify decides. */
	int plain_crc;
};
typedef int (*store_verify_fn)(const struct store_unit *u, int fd, char *err, size_t errlen);

/*
 * Give o its verification units (copied; any order; len 0 ignored). Call
 * once, before the first fetch. Units that overlap another are merged
 * into one unverified range; bytes between units are unverified ranges.
 * Without units the whole object is unverified (checked by its version
 * only), fetched in parts of at most a few MiB.
 */
int store_obj_set_units(struct store_obj *o, const struct store_unit *u, size_t n,
			store_verify_fn verify, char *err, size_t errlen);

/*
 * Make [off, off + len) of o present in its cache file: every unit the
 * range touches, whole, fetched if missing (in parallel, coalesced with
 * its missing neighbours), verified, marked present. The units of the
 * `ahead` bytes after it are fetched in the same batch when missing (read
 * ahead: best effort, their failure fails nothing). A range past the end
 * is clipped. Returns 0 when all of [off, off + len) is present;
 * otherwise nothing about the range may be read.
 */
int store_obj_fetch(struct store_obj *o, uint64_t off, uint64_t len, uint64_t ahead, char *err,
		    size_t errlen);

/*
 * Read ahead: start fetching the missing units of [off, off + len) of o
 * in the background and return at once. A store_obj_fetch() that needs
 * one of them meanwhile waits for it instead of asking again. Best
 * effort: a unit whose fetch fails is left missing, for the read that
 * needs it to fetch and report; a prefetch that finds the store busy
 * (a few fetches already queued) does nothing.
 */
void store_obj_prefetch(struct store_obj *o, uint64_t off, uint64_t len);

/*
 * Whether every byte of o is in its cache file, fetched and verified (by
 * this process or another): the cache file is then the object, and may
 * be read without asking (as FUSE passthrough does).
 */
int store_obj_complete(struct store_obj *o);

/* store_obj_fetch, then pread: exactly len bytes or an error (-EIO past
 * the end). */
int store_obj_read(struct store_obj *o, void *buf, size_t len, uint64_t off, char *err,
		   size_t errlen);

/* Counters of a store, for tests and benchmarks. */
struct store_stats {
	uint64_t requests;     /* HTTP requests sent (HEAD and GET) */
	uint64_t bytes;        /* body bytes received */
	uint64_t cache_hits;   /* units found present in the cache file */
	uint64_t verify_fails; /* units whose bytes did not verify */
	uint64_t retries;      /* requests repeated after a failure */
	uint64_t prefetched;   /* units fetched in the background (read ahead) */
};
void store_get_stats(const struct store *s, struct store_stats *out);

#endif /* CKPTFS_STORE_STORE_H */
