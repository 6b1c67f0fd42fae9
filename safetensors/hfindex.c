/*
 * hfindex.c - a strict reader of a Hugging Face sharded model's
 * model.safetensors.index.json: which shard file holds which tensor. The
 * shards' own headers are the truth about the tensors; view/ checks that
 * the two agree. Files come from anywhere: no recursion, every shard name
 * a plain file name, so that it cannot reach out of its directory.
 */
#include "safetensors/safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "safetensors/json.h"
#include "util/util.h"

struct in {
	struct json_in j;
	struct safetensors_index *ix;
	size_t cap, cap_files;
	unsigned seen;         /* 1: metadata, 2: weight_map */
	const uint8_t *key_at; /* the member being read: its key's first byte */
};

/* Empty, "{}", or members of (key, value) pairs until '}'; member() reads one. */
static int object(struct in *in, int (*member)(struct in *in, char *key, size_t len))
{
	int more;

	if (json_expect(&in->j, '{'))
		return -EBADMSG;
	json_blanks(&in->j);
	if (in->j.p < in->j.end && *in->j.p == '}') {
		in->j.p++;
		return 0;
	}
	do {
		char *key;
		size_t len;
		int rc;

		json_blanks(&in->j);
		in->key_at = in->j.p;
		rc = json_string(&in->j, &key, &len);
		if (rc)
			return rc;
		if (json_expect(&in->j, ':')) {
			free(key);
			return -EBADMSG;
		}
		rc = member(in, key, len); /* takes key */
		if (rc)
			return rc;
	} while ((more = json_next_or_close(&in->j, '}')) == 1);
	return more;
}

static int meta_member(struct in *in, char *key, size_t len)
{
	int total = len == 10 && !memcmp(key, "total_size", 10);

	free(key);
	if (!total)
		return json_scalar(&in->j);
	in->ix->has_total_size = 1;
	return json_number(&in->j, &in->ix->total_size);
}

static int file_name_ok(const char *s, size_t len)
{
	return len && strlen(s) == len && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* The number of shard file s (len bytes; taken over), added if new. */
static int file_number(struct in *in, char *s, size_t len, uint32_t *out)
{
	struct safetensors_index *ix = in->ix;
	char **f;

	for (size_t i = 0; i < ix->n_files; i++)
		if (!strcmp(ix->files[i], s)) {
			free(s);
			*out = (uint32_t)i;
			return 0;
		}
	if (!file_name_ok(s, len)) {
		char shown[128];

		json_bad(&in->j, "shard '%s' is not a file name of the model's directory",
			 util_escape(shown, sizeof(shown), s, len, UTIL_ESCAPE_BACKSLASH));
		free(s);
		return -EBADMSG;
	}
	f = ix->n_files < UINT32_MAX
		    ? util_grow(ix->files, &in->cap_files, ix->n_files + 1, sizeof(*f))
		    : NULL;
	if (!f) {
		free(s);
		return -ENOMEM;
	}
	ix->files = f;
	*out = (uint32_t)ix->n_files;
	ix->files[ix->n_files++] = s;
	return 0;
}

static int weight_member(struct in *in, char *key, size_t len)
{
	struct safetensors_index_entry *t;
	char *file;
	size_t flen;
	uint32_t no;
	const uint8_t *at;
	int rc;

	json_blanks(&in->j);
	at = in->j.p;
	rc = json_string(&in->j, &file, &flen);
	if (rc == 0) {
		const uint8_t *after = in->j.p;

		in->j.p = at; /* a bad shard name is reported at its string */
		rc = file_number(in, file, flen, &no);
		if (rc == 0)
			in->j.p = after;
	}
	t = rc ? NULL : util_grow(in->ix->t, &in->cap, in->ix->n + 1, sizeof(*t));
	if (!t) {
		free(key);
		return rc ? rc : -ENOMEM;
	}
	in->ix->t = t;
	t[in->ix->n++] = (struct safetensors_index_entry){ key, len, no };
	return 0;
}

static int top_member(struct in *in, char *key, size_t len)
{
	unsigned which = len == 8 && !memcmp(key, "metadata", 8)       ? 1u
			 : len == 10 && !memcmp(key, "weight_map", 10) ? 2u
								       : 0u;

	free(key);
	if (!which || in->seen & which) {
		in->j.p = in->key_at; /* the message names the member's first byte */
		return json_bad(&in->j, which ? "a member given twice"
					      : "unknown member (expected metadata, weight_map)");
	}
	in->seen |= which;
	json_blanks(&in->j);
	if (which == 1 && in->j.end - in->j.p >= 4 && !memcmp(in->j.p, "null", 4)) {
		in->j.p += 4;
		return 0;
	}
	return object(in, which == 1 ? meta_member : weight_member);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct safetensors_index_entry *x = a, *y = b;

	return bundle_key_cmp(x->name, x->name_len, y->name, y->name_len);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the files and the names; renumber; refuse a name given twice. */
static int finish(struct in *in)
{
	struct safetensors_index *ix = in->ix;
	char **old = malloc((ix->n_files + 1) * sizeof(*old));
	uint32_t *to = malloc((ix->n_files + 1) * sizeof(*to));
	int rc = old && to ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < ix->n_files; i++)
		old[i] = ix->files[i];
	if (rc == 0 && ix->n_files)
		qsort(ix->files, ix->n_files, sizeof(*ix->files), cmp_str);
	for (size_t i = 0; rc == 0 && i < ix->n_files; i++)
		for (size_t k = 0; k < ix->n_files; k++)
			if (old[i] == ix->files[k])
				to[i] = (uint32_t)k;
	for (size_t i = 0; rc == 0 && i < ix->n; i++)
		ix->t[i].file = to[ix->t[i].file];
	if (rc == 0 && ix->n)
		qsort(ix->t, ix->n, sizeof(*ix->t), cmp_entry);
	for (size_t i = 1; rc == 0 && i < ix->n; i++)
		if (!cmp_entry(&ix->t[i - 1], &ix->t[i])) {
			char shown[128];

			rc = json_bad(&in->j, "tensor '%s' is in the weight_map twice",
				      util_escape(shown, sizeof(shown), ix->t[i].name,
						  ix->t[i].name_len, UTIL_ESCAPE_BACKSLASH));
		}
	free(old);
	free(to);
	return rc;
}

int safetensors_index_parse(const uint8_t *json, size_t len, const char *what,
			    struct safetensors_index **out, char *err, size_t errlen)
{
	struct in in = { { json, json + len, json, err, errlen, what }, NULL, 0, 0, 0, NULL };
	int rc;

	if (!util_is_utf8((const char *)json, len))
		return json_bad(&in.j, "not UTF-8");
	in.ix = calloc(1, sizeof(*in.ix));
	if (!in.ix)
		return -ENOMEM;
	rc = object(&in, top_member);
	json_blanks(&in.j);
	if (rc == 0 && in.j.p != in.j.end)
		rc = json_bad(&in.j, "trailing bytes after the object");
	if (rc == 0 && !(in.seen & 2))
		rc = json_bad(&in.j, "no weight_map");
	if (rc == 0)
		rc = finish(&in);
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "out of memory");
	if (rc) {
		safetensors_index_free(in.ix);
		return rc;
	}
	*out = in.ix;
	return 0;
}

void safetensors_index_free(struct safetensors_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->n_files; i++)
		free(ix->files[i]);
	for (size_t i = 0; i < ix->n; i++)
		free(ix->t[i].name);
	free(ix->files);
	free(ix->t);
	free(ix);
}
