/*
 * url.c - object URLs: s3://BUCKET/KEY turned into the HTTP URL requests
 * go to (path-style under a configured endpoint, AWS's virtual-hosted
 * style otherwise), http(s) URLs checked, and the form messages show.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_is_url(const char *path)
{
	return !strncmp(path, "s3://", 5) || !strncmp(path, "http://", 7) ||
	       !strncmp(path, "https://", 8);
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

size_t store_url_encode_key(char *dst, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || c == '/') {
			dst[w++] = (char)c;
		} else {
			dst[w++] = '%';
			dst[w++] = hex[c >> 4];
			dst[w++] = hex[c & 15];
		}
	}
	dst[w] = '\0';
	return w;
}

/* The URL without its query string, for messages. */
static char *shown_form(const char *url)
{
	size_t n = strcspn(url, "?");
	char *s = malloc(n + 5);

	if (!s)
		return NULL;
	memcpy(s, url, n);
	strcpy(s + n, url[n] ? "?..." : "");
	return s;
}

/* Whether s holds a byte a URL may not hold as it is: a control
 * character, DEL, or (space_too) a space. */
static int bad_char(const char *s, size_t n, int space_too)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' + !!space_too || s[i] == 0x7f)
			return 1;
	return 0;
}

static int parse_http(const char *url, struct store_url *u, char *err, size_t errlen)
{
	const char *host = strstr(url, "://") + 3;

	if (!*host || *host == '/')
		return store_errf(err, errlen, -EINVAL, "'%s': no host in this URL", u->shown);
	if (bad_char(url, strlen(url), 1))
		return store_errf(
			err, errlen, -EINVAL,
			"'%s': a URL may not hold spaces or control characters (write them %%XX)",
			u->shown);
	u->scheme = url[4] == 's' ? STORE_HTTPS : STORE_HTTP;
	u->request = strdup(url);
	return u->request ? 0 : -ENOMEM;
}

/* https://BUCKET.s3.REGION.amazonaws.com/KEY, or path-style for a bucket
 * name with dots (a virtual host name would not match the certificate). */
static char *aws_request(const struct aws_cfg *cfg, const char *bucket, const char *enc_key)
{
	size_t n = strlen(bucket) + strlen(enc_key) + strlen(cfg->region) +
		   (cfg->endpoint ? strlen(cfg->endpoint) : 0) + 64;
	char *s = malloc(n);

	if (!s)
		return NULL;
	if (cfg->endpoint)
		snprintf(s, n, "%s/%s/%s", cfg->endpoint, bucket, enc_key);
	else if (strchr(bucket, '.'))
		snprintf(s, n, "https://s3.%s.amazonaws.com/%s/%s", cfg->region, bucket, enc_key);
	else
		snprintf(s, n, "https://%s.s3.%s.amazonaws.com/%s", bucket, cfg->region, enc_key);
	return s;
}

static int parse_s3(const char *url, const struct aws_cfg *cfg, struct store_url *u, char *err,
		    size_t errlen)
{
	const char *b = url + 5, *slash = strchr(b, '/');
	char *enc;

	u->scheme = STORE_S3;
	if (!slash || slash == b || !slash[1])
		return store_errf(err, errlen, -EINVAL, "'%s': an S3 URL is s3://BUCKET/KEY",
				  u->shown);
	if (memchr(b, '?', (size_t)(slash - b)) || bad_char(b, (size_t)(slash - b), 1))
		return store_errf(err, errlen, -EINVAL, "'%s': not a valid bucket name", u->shown);
	if (bad_char(slash + 1, strlen(slash + 1), 0))
		return store_errf(err, errlen, -EINVAL,
				  "'%s': an object key may not hold control characters", u->shown);
	u->bucket = strndup(b, (size_t)(slash - b));
	u->key = strdup(slash + 1);
	enc = u->key ? malloc(3 * strlen(u->key) + 1) : NULL;
	if (!u->bucket || !enc) {
		free(enc);
		return -ENOMEM;
	}
	store_url_encode_key(enc, u->key, strlen(u->key));
	u->request = aws_request(cfg, u->bucket, enc);
	free(enc);
	return u->request ? 0 : -ENOMEM;
}

int store_url_parse(const char *url, const struct aws_cfg *cfg, struct store_url *out, char *err,
		    size_t errlen)
{
	struct store_url u = { 0 };
	int rc;

	u.shown = shown_form(url);
	if (!u.shown)
		return store_errf(err, errlen, -ENOMEM, "out of memory");
	if (!strncmp(url, "s3://", 5))
		rc = parse_s3(url, cfg, &u, err, errlen);
	else if (store_is_url(url))
		rc = parse_http(url, &u, err, errlen);
	else
		rc = store_errf(err, errlen, -EINVAL, "'%s': not an s3:// or http(s):// URL",
				u.shown);
	if (rc == -ENOMEM)
		store_errf(err, errlen, rc, "out of memory");
	if (rc) {
		store_url_release(&u);
		return rc;
	}
	*out = u;
	return 0;
}

void store_url_release(struct store_url *u)
{
	free(u->bucket);
	free(u->key);
	free(u->request);
	free(u->shown);
	memset(u, 0, sizeof(*u));
}
