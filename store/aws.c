/*
 * aws.c - the S3 configuration, read the way every AWS tool reads it:
 * the endpoint (AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL), the region
 * (AWS_REGION, AWS_DEFAULT_REGION, us-east-1), the keys from the
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN) or else from the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, section
 * AWS_PROFILE or "default"). No keys: requests go unsigned (a public
 * bucket). Secrets are wiped when released and never put in a message.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */

#include "store/store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

/* A copy of environment variable name if set and not empty; *ok = 0 on
 * no memory. */
static char *env_dup(const char *name, int *ok)
{
	const char *v = getenv(name);
	char *s;

	if (!v || !*v)
		return NULL;
	s = strdup(v);
	if (!s)
		*ok = 0;
	return s;
}

static const char *trim(const char *s, const char *end, size_t *n)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*n = (size_t)(end - s);
	return s;
}

/* Whether line [s, end) is the header of section `profile`. */
static int is_section(const char *s, size_t n, const char *profile)
{
	size_t pl = strlen(profile);

	return n == pl + 2 && s[0] == '[' && s[n - 1] == ']' && !memcmp(s + 1, profile, pl);
}

/* Take key = value on line [s, s+n) into out[] when it is one of ours. */
static int take_value(const char *s, size_t n, char *out[3])
{
	static const char *const names[3] = { "aws_access_key_id", "aws_secret_access_key",
					      "aws_session_token" };
	const char *eq = memchr(s, '=', n);
	size_t kn, vn;
	const char *k, *v;

	if (!eq)
		return 0;
	k = trim(s, eq, &kn);
	v = trim(eq + 1, s + n, &vn);
	for (int i = 0; i < 3; i++) {
		if (kn != strlen(names[i]) || memcmp(k, names[i], kn))
			continue;
		free(out[i]);
		out[i] = strndup(v, vn);
		return out[i] ? 0 : -ENOMEM;
	}
	return 0;
}

int aws_cred_parse(const char *text, size_t len, const char *profile, char *out[3])
{
	const char *p = text, *end = text + len;
	int in = 0;

	out[0] = out[1] = out[2] = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t n;
		const char *s = trim(p, le, &n);

		p = nl ? nl + 1 : end;
		if (n == 0 || s[0] == '#' || s[0] == ';')
			continue;
		if (s[0] == '[') {
			in = is_section(s, n, profile);
			continue;
		}
		if (in && take_value(s, n, out) < 0) {
			for (int i = 0; i < 3; i++)
				free(out[i]);
			out[0] = out[1] = out[2] = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/* The shared credentials file's path, malloc'd, or NULL. */
static char *cred_path(void)
{
	const char *f = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *home = getenv("HOME");
	char *s;

	if (f && *f)
		return strdup(f);
	if (!home || !*home)
		return NULL;
	s = malloc(strlen(home) + sizeof("/.aws/credentials"));
	if (s)
		strcat(strcpy(s, home), "/.aws/credentials");
	return s;
}

static int load_file_keys(struct aws_cfg *c, char *err, size_t errlen)
{
	const char *profile = getenv("AWS_PROFILE");
	char *path = cred_path(), *text = NULL, *v[3];
	size_t len;
	int fd, rc;

	if (!profile || !*profile)
		profile = "default";
	fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
	rc = fd < 0 ? 0 : util_read_all(fd, 1 << 20, &text, &len);
	if (fd >= 0)
		close(fd);
	if (rc == 0 && text)
		rc = aws_cred_parse(text, len, profile, v);
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	if (rc < 0 || !text) {
		free(path);
		return rc == -ENOMEM ? rc : 0; /* an unreadable file: no keys */
	}
	if (!v[0] != !v[1]) {
		rc = store_errf(err, errlen, -EINVAL, "'%s': profile [%s] has %s but not %s", path,
				profile, v[0] ? "aws_access_key_id" : "aws_secret_access_key",
				v[0] ? "aws_secret_access_key" : "aws_access_key_id");
		for (int i = 0; i < 3; i++)
			free(v[i]);
	} else {
		c->access_key = v[0];
		c->secret_key = v[1];
		c->session_token = v[2];
	}
	free(path);
	return rc;
}

static void strip_slash(char *s)
{
	size_t n = s ? strlen(s) : 0;

	while (n && s[n - 1] == '/')
		s[--n] = '\0';
}

int aws_cfg_load(struct aws_cfg *c, char *err, size_t errlen)
{
	int ok = 1, rc = 0;

	memset(c, 0, sizeof(*c));
	c->endpoint = env_dup("AWS_ENDPOINT_URL_S3", &ok);
	if (!c->endpoint)
		c->endpoint = env_dup("AWS_ENDPOINT_URL", &ok);
	strip_slash(c->endpoint);
	c->region = env_dup("AWS_REGION", &ok);
	if (!c->region)
		c->region = env_dup("AWS_DEFAULT_REGION", &ok);
	if (!c->region)
		c->region = strdup("us-east-1");
	c->ca_bundle = env_dup("AWS_CA_BUNDLE", &ok);
	c->access_key = env_dup("AWS_ACCESS_KEY_ID", &ok);
	c->secret_key = env_dup("AWS_SECRET_ACCESS_KEY", &ok);
	c->session_token = env_dup("AWS_SESSION_TOKEN", &ok);
	if (ok && !c->access_key && !c->secret_key)
		rc = load_file_keys(c, err, errlen);
	else if (ok && !c->access_key != !c->secret_key)
		rc = store_errf(err, errlen, -EINVAL, "%s is set but %s is not",
				c->access_key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				c->access_key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (!ok || !c->region)
		rc = store_errf(err, errlen, -ENOMEM, "out of memory");
	if (rc)
		aws_cfg_release(c);
	return rc;
}

static void wipe(char **s)
{
	if (*s)
		explicit_bzero(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

void aws_cfg_release(struct aws_cfg *c)
{
	wipe(&c->secret_key);
	wipe(&c->session_token);
	wipe(&c->access_key);
	free(c->endpoint);
	free(c->region);
	free(c->ca_bundle);
	memset(c, 0, sizeof(*c));
}
