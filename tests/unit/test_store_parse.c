/*
 * test_store_parse.c - the store's parsers of what servers and users
 * write: Content-Range, header lines, S3 error bodies, the shared
 * credentials file, object URLs (path-style and virtual-hosted, keys
 * percent-encoded) and sizes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store_impl.h"

static void test_content_range(void **state)
{
	int64_t f, l, t;
	static const char *const bad[] = {
		"bytes 5-4/10",
		"bytes 0-9/9",
		"bytes 0-9/",
		"bytes -9/10",
		"bytes 0-9/10x",
		"bits 0-9/10",
		"bytes 0-99999999999999999999/1",
		"bytes */10",
		"",
	};

	(void)state;
	assert_int_equal(store_http_parse_content_range("bytes 0-99/1000", 15, &f, &l, &t), 0);
	assert_true(f == 0 && l == 99 && t == 1000);
	assert_int_equal(store_http_parse_content_range("bytes 10-19/*", 13, &f, &l, &t), 0);
	assert_true(f == 10 && l == 19 && t == -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(store_http_parse_content_range(bad[i], strlen(bad[i]), &f, &l, &t),
				 -EBADMSG);
	assert_int_equal(store_http_parse_length("1234", 4, &f), 0);
	assert_int_equal(f, 1234);
	assert_int_equal(store_http_parse_length("12a", 3, &f), -EBADMSG);
	assert_int_equal(store_http_parse_length("", 0, &f), -EBADMSG);
}

static void test_header_lines(void **state)
{
	const char *line = "ETag:  \"abc\" \r\n", *name, *v;
	size_t nl, vl;

	(void)state;
	assert_int_equal(store_http_split_header(line, strlen(line), &name, &nl, &v, &vl), 0);
	assert_int_equal(nl, 4);
	assert_true(store_http_header_is(name, nl, "etag"));
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "\"abc\"", 5);
	assert_int_equal(store_http_split_header("HTTP/1.1 200 OK\r\n", 17, &name, &nl, &v, &vl),
			 -EBADMSG);
	assert_int_equal(store_http_split_header("no colon\r\n", 10, &name, &nl, &v, &vl),
			 -EBADMSG);
	assert_int_equal(store_http_split_header("bad name: x", 11, &name, &nl, &v, &vl), -EBADMSG);
}

static void test_s3_error(void **state)
{
	const char *body = "<Error><Code>AccessDenied</Code><Message>no\x01way</Message></Error>";
	char code[8], msg[64];

	(void)state;
	store_http_s3_error(body, strlen(body), code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "AccessD"); /* cut to the buffer */
	assert_string_equal(msg, "no?way");   /* no control characters */
	store_http_s3_error("<Code>x", 7, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "");
}

static void test_credentials(void **state)
{
	const char *text = "# comment\n[other]\naws_access_key_id = OTHER\n"
			   "[default]\r\n aws_access_key_id = AK \n"
			   "aws_secret_access_key=SK\n; x\n[third]\naws_session_token=T\n";
	char *v[3];

	(void)state;
	assert_int_equal(aws_cred_parse(text, strlen(text), "default", v), 0);
	assert_string_equal(v[0], "AK");
	assert_string_equal(v[1], "SK");
	assert_null(v[2]);
	for (int i = 0; i < 3; i++)
		free(v[i]);
	assert_int_equal(aws_cred_parse(text, strlen(text), "missing", v), 0);
	assert_true(!v[0] && !v[1] && !v[2]);
}

static void test_urls(void **state)
{
	struct aws_cfg aws = { .region = "eu-west-1" },
		       local = { .region = "us-east-1", .endpoint = "http://127.0.0.1:9000" };
	struct store_url u;
	char err[256];

	(void)state;
	assert_int_equal(store_url_parse("s3://bkt/dir/a b+c%é", &aws, &u, err, sizeof(err)), 0);
	assert_string_equal(u.request,
			    "https://bkt.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc%25%C3%A9");
	assert_string_equal(u.key, "dir/a b+c%é");
	store_url_release(&u);
	assert_int_equal(store_url_parse("s3://my.bkt/k", &aws, &u, err, sizeof(err)), 0);
	assert_string_equal(u.request, "https://s3.eu-west-1.amazonaws.com/my.bkt/k");
	store_url_release(&u);
	assert_int_equal(store_url_parse("s3://bkt/k", &local, &u, err, sizeof(err)), 0);
	assert_string_equal(u.request, "http://127.0.0.1:9000/bkt/k");
	store_url_release(&u);
	assert_int_equal(
		store_url_parse("https://h/p/m.ckpt?sig=SECRET", &aws, &u, err, sizeof(err)), 0);
	assert_string_equal(u.shown, "https://h/p/m.ckpt?...");
	store_url_release(&u);
	assert_int_equal(store_url_parse("s3://bkt", &aws, &u, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "s3://BUCKET/KEY"));
	assert_int_equal(store_url_parse("https://h/a b", &aws, &u, err, sizeof(err)), -EINVAL);
	assert_int_equal(store_url_parse("https:///x", &aws, &u, err, sizeof(err)), -EINVAL);
}

static void test_sizes(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(store_parse_size("123", &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(store_parse_size("64K", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(store_parse_size("10GiB", &v), 0);
	assert_int_equal(v, 10LL << 30);
	assert_int_equal(store_parse_size("2T", &v), 0);
	assert_int_equal(store_parse_size("-1", &v), -EINVAL);
	assert_int_equal(store_parse_size("1Q", &v), -EINVAL);
	assert_int_equal(store_parse_size("99999999999T", &v), -EINVAL);
	assert_int_equal(store_parse_size("", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_range), cmocka_unit_test(test_header_lines),
		cmocka_unit_test(test_s3_error),      cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_urls),          cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
