/*
 * suggest.c - rank a source's names and scopes by edit distance to a
 * query. Case-only differences rank first. Runs only on the error path, so
 * a plain scan of the names is fine; the length filter keeps it quick.
 */
#include "view/suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle.h"
#include "util/util.h"

#define SUGGEST_MAX 3
#define SUGGEST_NAME_MAX 256

struct candidate {
	char name[SUGGEST_NAME_MAX];
	int score; /* lower is better */
};

static void consider(struct candidate *best, const char *q, size_t ql, const char *name, size_t len,
		     int limit)
{
	int d, score, worst = 0;

	if (len >= SUGGEST_NAME_MAX || (len > ql ? len - ql : ql - len) > (size_t)limit)
		return;
	d = (int)util_edit_distance(q, ql, name, len, (size_t)limit, UTIL_EDIT_FOLD_CASE);
	if (d > limit)
		return;
	/* exact-but-for-case first: distance 0 yet different bytes */
	score = 2 * d + (len != ql || memcmp(q, name, len) != 0);
	for (int i = 0; i < SUGGEST_MAX; i++) {
		if (!strncmp(best[i].name, name, len) && best[i].name[len] == '\0')
			return; /* scopes repeat; list each once */
		if (best[i].score > best[worst].score)
			worst = i;
	}
	if (score >= best[worst].score)
		return;
	memcpy(best[worst].name, name, len);
	best[worst].name[len] = '\0';
	best[worst].score = score;
}

/* Every scope of a name: "a/", "a/b/" of "a/b/c". */
static void consider_scopes(struct candidate *best, const char *q, size_t ql,
			    const struct bundle_entry *e, int limit)
{
	for (size_t i = 0; i < e->key_len; i++)
		if (e->key[i] == '/')
			consider(best, q, ql, e->key, i + 1, limit);
}

static int by_score(const void *a, const void *b)
{
	return ((const struct candidate *)a)->score - ((const struct candidate *)b)->score;
}

size_t suggest_names(const struct bundle_reader *r, const char *query, size_t query_len, char *buf,
		     size_t len)
{
	struct candidate best[SUGGEST_MAX];
	int limit = query_len / 3 > 2 ? (int)(query_len / 3) : 2;
	size_t n = 0, used = 0;
	char shown[2 * SUGGEST_NAME_MAX];

	for (int i = 0; i < SUGGEST_MAX; i++)
		best[i] = (struct candidate){ "", 1 << 30 };
	for (size_t i = 0; i < bundle_num_entries(r); i++) {
		const struct bundle_entry ent = bundle_entry_at(r, i), *e = &ent;

		if (bundle_entry_is_piece(e))
			continue;
		consider(best, query, query_len, e->key, e->key_len, limit);
		consider_scopes(best, query, query_len, e, limit);
	}
	qsort(best, SUGGEST_MAX, sizeof(*best), by_score);
	buf[0] = '\0';
	for (int i = 0; i < SUGGEST_MAX && best[i].score < (1 << 30); i++)
		n++;
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s'%s'",
					 i == 0       ? ""
					 : i + 1 == n ? " or "
						      : ", ",
					 util_escape(shown, sizeof(shown), best[i].name,
						     strlen(best[i].name), UTIL_ESCAPE_BACKSLASH));
	return n;
}
