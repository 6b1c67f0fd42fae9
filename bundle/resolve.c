/*
 * resolve.c - from what a user types to a checkpoint prefix: a prefix, a
 * checkpoint directory (its `checkpoint` state file), a SavedModel, or a
 * SavedModel's variables/ directory (docs/checkpoint-format.md §1, §8).
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/internal.h"

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int slash = la && a[la - 1] != '/';
	char *s = malloc(la + slash + lb + 1);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	if (slash)
		s[la] = '/';
	memcpy(s + la + slash, b, lb + 1);
	return s;
}

static int has_index(const char *prefix)
{
	char *p = malloc(strlen(prefix) + sizeof(".index"));
	int ok;

	if (!p)
		return 0;
	strcpy(p, prefix);
	strcat(p, ".index");
	ok = access(p, F_OK) == 0;
	free(p);
	return ok;
}

/* Undo text-format C escapes in place (\" \\ \' \n \t \r \ooo \xHH). */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s != '\\' || !s[1]) {
			*w++ = *s;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': *w++ = '\n'; break;
		case 't': *w++ = '\t'; break;
		case 'r': *w++ = '\r'; break;
		case 'x':
			*w++ = (char)strtol((char[3]){ s[1], s[1] ? s[2] : 0, 0 },
					    NULL, 16);
			s += s[1] ? (s[2] ? 2 : 1) : 0;
			break;
		default:
			if (*s >= '0' && *s <= '7') {
				int v = 0, k = 0;

				for (; k < 3 && s[k] >= '0' && s[k] <= '7'; k++)
					v = v * 8 + (s[k] - '0');
				*w++ = (char)v;
				s += k - 1;
			} else {
				*w++ = *s;
			}
		}
	}
	*w = '\0';
}

/* model_checkpoint_path of DIR/checkpoint, or NULL if it has none. */
static char *state_file_path(const char *dir)
{
	static const char field[] = "model_checkpoint_path:";
	char *file = join(dir, "checkpoint"), *line = NULL, *res = NULL;
	size_t cap = 0;
	FILE *f;

	f = file ? fopen(file, "re") : NULL;
	free(file);
	if (!f)
		return NULL;
	while (!res && getline(&line, &cap, f) > 0) {
		char *p = line + strspn(line, " \t"), *q, *end;

		if (strncmp(p, field, sizeof(field) - 1))
			continue;
		p += sizeof(field) - 1;
		q = strchr(p, '"');
		end = q ? strrchr(q + 1, '"') : NULL;
		if (!end || end == q)
			continue;
		*end = '\0';
		unescape(q + 1);
		res = q[1] ? (q[1] == '/' ? strdup(q + 1) : join(dir, q + 1))
			   : NULL;
	}
	free(line);
	fclose(f);
	return res;
}

static char *try_dir(const char *path)
{
	char *p = state_file_path(path);

	if (p && has_index(p))
		return p;
	free(p);
	p = join(path, "variables/variables");
	if (p && has_index(p))
		return p;
	free(p);
	p = join(path, "variables");
	if (p && has_index(p))
		return p;
	free(p);
	return NULL;
}

int bundle_resolve_prefix(const char *path, char **prefix_out,
			  char *err, size_t errlen)
{
	struct stat st;
	char *p;

	if (has_index(path)) {
		p = strdup(path);
	} else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		p = try_dir(path);
		if (!p)
			return bundle_errf(err, errlen, -ENOENT,
					   "'%s': no checkpoint here (no 'checkpoint' state file naming an existing prefix, no variables/variables.index)",
					   path);
	} else {
		return bundle_errf(err, errlen, -ENOENT,
				   "'%s': not a checkpoint ('%s.index' does not exist)",
				   path, path);
	}
	if (!p)
		return bundle_errf(err, errlen, -ENOMEM, "out of memory");
	*prefix_out = p;
	return 0;
}
