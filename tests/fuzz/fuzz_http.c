/*
 * fuzz_http.c - what a server or a credentials file may hold, fed to the
 * store's parsers: Content-Range and Content-Length values, header lines,
 * S3 error bodies, the shared credentials file and object URLs. Checks
 * what each promises of a successful parse.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"

static void check_range(const char *s, size_t n)
{
	int64_t f, l, t;

	if (store_http_parse_content_range(s, n, &f, &l, &t) == 0 &&
	    (f < 0 || l < f || (t != -1 && l >= t)))
		abort();
	if (store_http_parse_length(s, n, &f) == 0 && f < 0)
		abort();
}

static void check_header(const char *s, size_t n)
{
	const char *name, *v;
	size_t nl, vl;

	if (store_http_split_header(s, n, &name, &nl, &v, &vl))
		return;
	if (name != s || nl == 0 || nl >= n || v < s + nl || v + vl > s + n)
		abort();
	(void)store_http_header_is(name, nl, "content-range");
}

static void check_error_body(const char *s, size_t n)
{
	char code[64], msg[160];

	store_http_s3_error(s, n, code, sizeof(code), msg, sizeof(msg));
	for (const char *p = code; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			abort();
	if (strlen(msg) >= sizeof(msg))
		abort();
}

static void check_credentials(const char *s, size_t n)
{
	char *v[3];

	if (aws_cred_parse(s, n, "default", v) == 0)
		for (int i = 0; i < 3; i++)
			free(v[i]);
}

static void check_url(const char *s, size_t n)
{
	struct aws_cfg cfg = { .region = "us-east-1",
			       .endpoint = n & 1 ? "http://127.0.0.1:9" : NULL };
	char *z = malloc(n + 1);
	struct store_url u;

	if (!z)
		return;
	memcpy(z, s, n);
	z[n] = '\0';
	if (store_url_parse(z, &cfg, &u, NULL, 0) == 0) {
		if (!u.request || !u.shown || strchr(u.shown, '?') != strstr(u.shown, "?..."))
			abort();
		store_url_release(&u);
	}
	free(z);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *s = (const char *)data;

	check_range(s, size);
	check_header(s, size);
	check_error_body(s, size);
	check_credentials(s, size);
	check_url(s, size);
	return 0;
}
