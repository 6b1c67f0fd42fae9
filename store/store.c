/*
 * store.c - a store's life: its options (the environment fills what the
 * caller left 0), the cache directory made and opened, the S3
 * configuration read, libcurl's shared connections set up; its counters.
 */
#define _GNU_SOURCE /* O_PATH */

#include "store/store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int store_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int store_parse_size(const char *s, int64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return -EINVAL;
	if (v > (unsigned long long)INT64_MAX >> shift)
		return -EINVAL;
	*out = (int64_t)(v << shift);
	return 0;
}

/* mkdir -p path (mode 0700 for what it makes). */
static int make_dirs(const char *path)
{
	char *p = strdup(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; rc == 0; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			rc = -errno;
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}

/* The cache directory: opt's, else from the environment. malloc'd. */
static char *cache_dir_of(const char *given)
{
	const char *v = given ? given : getenv("CKPTFS_CACHE_DIR");
	const char *base = getenv("XDG_CACHE_HOME"), *tail = "/ckptfs";
	char *s;

	if (v && *v)
		return strdup(v);
	if (!base || base[0] != '/') {
		base = getenv("HOME");
		tail = "/.cache/ckptfs";
	}
	if (!base || base[0] != '/')
		return NULL;
	s = malloc(strlen(base) + strlen(tail) + 1);
	if (s)
		strcat(strcpy(s, base), tail);
	return s;
}

static int setup_cache(struct store *s, const struct store_options *opt, char *err, size_t errlen)
{
	const char *env = getenv("CKPTFS_CACHE_SIZE");
	int rc;

	s->cache_dir = cache_dir_of(opt ? opt->cache_dir : NULL);
	if (!s->cache_dir)
		return store_errf(err, errlen, -EINVAL,
				  "no cache directory: set CKPTFS_CACHE_DIR (or HOME)");
	s->cache_size = opt && opt->cache_size ? opt->cache_size : 10LL << 30;
	if (!(opt && opt->cache_size) && env && *env && store_parse_size(env, &s->cache_size))
		return store_errf(
			err, errlen, -EINVAL,
			"CKPTFS_CACHE_SIZE='%s': not a size (bytes, or a number and K, M, G or T)",
			env);
	rc = make_dirs(s->cache_dir);
	s->dir_fd = rc ? -1 : open(s->cache_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rc == 0 && s->dir_fd < 0)
		rc = -errno;
	if (rc == 0 && faccessat(s->dir_fd, ".", W_OK, AT_EACCESS) < 0)
		rc = -errno;
	if (rc)
		return store_errf(err, errlen, rc, "'%s': cannot use this cache directory: %s",
				  s->cache_dir, strerror(-rc));
	return 0;
}

/* CKPTFS_REMOTE_TIMEOUT (seconds, a fraction allowed), else 30 s. */
static int env_timeout_ms(void)
{
	const char *v = getenv("CKPTFS_REMOTE_TIMEOUT");
	char *end;
	double sec = v && *v ? strtod(v, &end) : 0;

	if (!v || !*v || *end || !(sec > 0) || sec > 86400)
		return 30000;
	return (int)(sec * 1000 + 0.5);
}

int store_new(const struct store_options *opt, struct store **out, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return store_errf(err, errlen, -ENOMEM, "out of memory");
	s->dir_fd = -1;
	store_prefetch_init(s);
	s->timeout_ms = opt && opt->timeout_ms > 0 ? opt->timeout_ms : env_timeout_ms();
	s->connections = opt && opt->connections > 0 ? opt->connections : 16;
	rc = setup_cache(s, opt, err, errlen);
	if (rc == 0)
		rc = aws_cfg_load(&s->aws, err, errlen);
	if (rc == 0)
		rc = store_http_init(s, err, errlen);
	if (rc) {
		store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	store_prefetch_stop(s); /* its jobs hold objects, and use the connections */
	if (s->share)
		store_http_release(s);
	aws_cfg_release(&s->aws);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->cache_dir);
	free(s);
}

int store_has_secrets(const struct store *s) { return s->aws.secret_key || s->aws.session_token; }

const char *store_cache_dir(const struct store *s) { return s->cache_dir; }

void store_get_stats(const struct store *s, struct store_stats *out)
{
	out->requests = __atomic_load_n(&s->stats.requests, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&s->stats.bytes, __ATOMIC_RELAXED);
	out->cache_hits = __atomic_load_n(&s->stats.cache_hits, __ATOMIC_RELAXED);
	out->verify_fails = __atomic_load_n(&s->stats.verify_fails, __ATOMIC_RELAXED);
	out->retries = __atomic_load_n(&s->stats.retries, __ATOMIC_RELAXED);
	out->prefetched = __atomic_load_n(&s->stats.prefetched, __ATOMIC_RELAXED);
}
