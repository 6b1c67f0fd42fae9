/*
 * directive.c - one function per directive of a mapping file, each
 * checking its words left to right so that the first error reported is
 * the leftmost one of the line, at the column of the word at fault.
 */
#include "mapping/directive.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/lexer.h"
#include "mapping/mapping.h"
#include "mapping/range.h"
#include "util/util.h"

#define SOURCE_USAGE "source NAME = PATH"
#define MAP_USAGE "map NAME:FROM -> TO"
#define EXCLUDE_USAGE "exclude NAME:GLOB or exclude *:GLOB"
#define PREFIX_USAGE "prefix = NAME"
#define LAYOUT_USAGE "layout = single|shards"
#define FORMAT_USAGE "format = tensorflow|safetensors|both"
#define CHECKPOINT_USAGE "checkpoint = auto|object-based|name-based"
#define UNMAPPED_USAGE "unmapped = shown|hidden"
#define FILE_USAGE "file NAME = SRC:PATH or file NAME = PATH"
#define MAX_SHARD_SIZE_USAGE "max_shard_size = SIZE (e.g. 5GB, 500MiB)"

__attribute__((format(printf, 4, 5))) static int perr(struct mapping_parser *p, int line, int col,
						      const char *fmt, ...)
{
	const struct mapping_pos pos = { p->m->file, line, col };
	va_list ap;

	va_start(ap, fmt);
	mapping_vdiag(p->err, p->errlen, -EINVAL, &pos, "error", fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int oom(struct mapping_parser *p)
{
	const struct mapping_pos pos = { p->m->file, 0, 0 };

	return mapping_diag(p->err, p->errlen, -ENOMEM, &pos, "error", "out of memory");
}

const char *mapping_quote(char *buf, const char *word)
{
	return util_escape(buf, MAPPING_QUOTE_SIZE, word, strlen(word), 0);
}

const char *mapping_quote_short(char *buf, const char *word)
{
	return util_escape(buf, MAPPING_QUOTE_SHORT_SIZE, word, strlen(word), 0);
}

static struct mapping_pos pos_at(const struct mapping_parser *p, const struct mapping_line *l,
				 size_t i)
{
	const struct mapping_pos pos = { p->m->file, l->line, l->tok[i].col };

	return pos;
}

/* Word i of l must exist; what says what it should be ("a path"). */
static int want_word(struct mapping_parser *p, const struct mapping_line *l, size_t i,
		     const char *what, const char *usage)
{
	char q[MAPPING_QUOTE_SIZE];

	if (i < l->n)
		return 0;
	return perr(p, l->line, l->end_col, "expected %s after '%s' (usage: %s)", what,
		    mapping_quote(q, l->tok[i - 1].text), usage);
}

static int is_punct(const struct mapping_token *t, const char *punct)
{
	return !t->quoted && !strcmp(t->text, punct);
}

/* Word i of l must be the punctuation punct: "=" or "->". */
static int want_punct(struct mapping_parser *p, const struct mapping_line *l, size_t i,
		      const char *punct, const char *usage)
{
	char q[MAPPING_QUOTE_SIZE], q2[MAPPING_QUOTE_SIZE];
	const char *prev = mapping_quote(q, l->tok[i - 1].text);
	const struct mapping_token *t;

	if (i >= l->n)
		return perr(p, l->line, l->end_col, "expected '%s' after '%s' (usage: %s)", punct,
			    prev, usage);
	t = &l->tok[i];
	if (is_punct(t, punct))
		return 0;
	if (!strcmp(t->text, punct))
		return perr(p, l->line, t->col, "'%s' must not be quoted (usage: %s)", punct,
			    usage);
	if (!t->quoted && !strncmp(t->text, punct, strlen(punct)))
		return perr(p, l->line, t->col,
			    "expected '%s' after '%s', not '%s' (put blanks around '%s')", punct,
			    prev, mapping_quote(q2, t->text), punct);
	return perr(p, l->line, t->col, "expected '%s' after '%s', not '%s' (usage: %s)", punct,
		    prev, mapping_quote(q2, t->text), usage);
}

/* l must have no word i: hint says how to avoid a stray one. */
static int want_end(struct mapping_parser *p, const struct mapping_line *l, size_t i,
		    const char *hint)
{
	char q[MAPPING_QUOTE_SIZE], q2[MAPPING_QUOTE_SIZE];

	if (i >= l->n)
		return 0;
	return perr(p, l->line, l->tok[i].col, "unexpected '%s' after '%s' (%s)",
		    mapping_quote(q, l->tok[i].text), mapping_quote(q2, l->tok[i - 1].text), hint);
}

/* A word that holds punct where blanks were forgotten ("a=b", "x->y"). */
static int want_unglued(struct mapping_parser *p, const struct mapping_line *l, size_t i,
			const char *punct, const char *usage)
{
	const struct mapping_token *t = &l->tok[i];
	char q[MAPPING_QUOTE_SIZE];

	if (t->quoted || !strstr(t->text, punct))
		return 0;
	return perr(p, l->line, t->col, "missing blanks around '%s' in '%s' (usage: %s)", punct,
		    mapping_quote(q, t->text), usage);
}

int mapping_source_name_ok(const char *s)
{
	static const char first[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";

	if (!*s || !strchr(first, *s))
		return 0;
	for (s++; *s; s++)
		if (!strchr(first, *s) && !strchr("0123456789.-", *s))
			return 0;
	return 1;
}

const struct mapping_source *mapping_find_source(const struct mapping *m, const char *name,
						 size_t len)
{
	size_t i;

	for (i = 0; i < m->n_sources; i++)
		if (!strncmp(m->sources[i].name, name, len) && !m->sources[i].name[len])
			return &m->sources[i];
	return NULL;
}

/* Word 1 of a `source` line: the new source's name. */
static int check_source_name(struct mapping_parser *p, const struct mapping_line *l)
{
	const struct mapping_token *t = &l->tok[1];
	const struct mapping_source *first;
	char q[MAPPING_QUOTE_SIZE];

	if (want_unglued(p, l, 1, "=", SOURCE_USAGE))
		return -EINVAL;
	if (!mapping_source_name_ok(t->text))
		return perr(
			p, l->line, t->col,
			"invalid source name '%s' (use letters, digits, '_', '.' and '-', starting with a letter or '_')",
			mapping_quote(q, t->text));
	first = mapping_find_source(p->m, t->text, t->len);
	if (first)
		return perr(p, l->line, t->col, "duplicate source '%s' (first declared at line %d)",
			    mapping_quote(q, t->text), first->pos.line);
	return 0;
}

int mapping_is_url(const char *path)
{
	size_t n = strspn(path, "abcdefghijklmnopqrstuvwxyz0123456789+.-");

	return n > 0 && path[0] >= 'a' && path[0] <= 'z' && !strncmp(path + n, "://", 3);
}

/*
 * The path relative paths are taken from: joined to base (no file system
 * access, no normalisation) unless absolute or there is no base.
 */
static char *resolve_path(const char *base, const char *path)
{
	size_t blen, plen;
	char *s;

	if (path[0] == '/' || !base || !*base || mapping_is_url(path))
		return strdup(path);
	blen = strlen(base);
	plen = strlen(path);
	s = malloc(blen + 1 + plen + 1);
	if (!s)
		return NULL;
	memcpy(s, base, blen);
	if (base[blen - 1] != '/')
		s[blen++] = '/';
	memcpy(s + blen, path, plen + 1);
	return s;
}

static int add_source(struct mapping_parser *p, const struct mapping_line *l)
{
	struct mapping *m = p->m;
	struct mapping_source *src;
	void *q;

	q = util_grow(m->sources, &p->sources_cap, m->n_sources + 1, sizeof(*src));
	if (!q)
		return oom(p);
	m->sources = q;
	src = &m->sources[m->n_sources];
	src->name = strdup(l->tok[1].text);
	src->path = strdup(l->tok[3].text);
	src->resolved_path = resolve_path(p->base_dir, l->tok[3].text);
	src->pos = pos_at(p, l, 0);
	src->path_pos = pos_at(p, l, 3);
	if (!src->name || !src->path || !src->resolved_path) {
		free(src->name);
		free(src->path);
		free(src->resolved_path);
		return oom(p);
	}
	m->n_sources++;
	return 0;
}

/* `source NAME = PATH` */
static int parse_source(struct mapping_parser *p, const struct mapping_line *l)
{
	if (want_word(p, l, 1, "a source name", SOURCE_USAGE) || check_source_name(p, l) ||
	    want_punct(p, l, 2, "=", SOURCE_USAGE) || want_word(p, l, 3, "a path", SOURCE_USAGE) ||
	    want_end(p, l, 4, "quote a path that contains blanks"))
		return -EINVAL;
	if (!l->tok[3].len)
		return perr(p, l->line, l->tok[3].col, "empty path (usage: %s)", SOURCE_USAGE);
	return add_source(p, l);
}

/*
 * Split word i ("NAME:REST", at the first ':') of a map or exclude line:
 * *name_len is the length of NAME, which may not be empty, and REST must
 * not be empty either (what_rest names it in the message).
 */
static int split_ref(struct mapping_parser *p, const struct mapping_line *l, size_t i,
		     const char *what_rest, const char *usage, size_t *name_len)
{
	const struct mapping_token *t = &l->tok[i];
	const char *colon = strchr(t->text, ':');
	char q[MAPPING_QUOTE_SIZE];

	if (!colon)
		return perr(p, l->line, t->col, "missing ':' in '%s' (usage: %s)",
			    mapping_quote(q, t->text), usage);
	if (colon == t->text)
		return perr(p, l->line, t->col,
			    "missing source name before ':' in '%s' (usage: %s)",
			    mapping_quote(q, t->text), usage);
	*name_len = (size_t)(colon - t->text);
	if (!colon[1])
		return perr(p, l->line, t->col, "empty %s after '%s' (usage: %s)", what_rest,
			    mapping_quote(q, t->text), usage);
	return 0;
}

/* Remember that item uses the source named by word i's NAME. */
static int add_ref(struct mapping_parser *p, const struct mapping_line *l, size_t i,
		   size_t name_len, int is_map, size_t item)
{
	struct mapping_source_ref *ref;
	void *q;

	q = util_grow(p->refs, &p->refs_cap, p->n_refs + 1, sizeof(*ref));
	if (!q)
		return oom(p);
	p->refs = q;
	ref = &p->refs[p->n_refs];
	ref->name = strndup(l->tok[i].text, name_len);
	if (!ref->name)
		return oom(p);
	ref->pos = pos_at(p, l, i);
	ref->is_map = is_map;
	ref->item = item;
	p->n_refs++;
	return 0;
}

/* A FROM ending in '/' is a scope, one ending in '.' a prefix of dotted names. */
static enum mapping_map_kind map_kind(const char *from, size_t len)
{
	if (len == 1 && from[0] == '/')
		return MAPPING_MAP_ROOT;
	if (from[len - 1] == '/' || (len > 1 && from[len - 1] == '.'))
		return MAPPING_MAP_SCOPE;
	return MAPPING_MAP_TENSOR;
}

/* TO (at column col of line l) must suit kind, FROM being from. */
static int check_target(struct mapping_parser *p, const struct mapping_line *l, int col,
			enum mapping_map_kind kind, const char *from, const char *to)
{
	const size_t to_len = strlen(to), from_len = strlen(from);
	const char end = to_len ? to[to_len - 1] : '\0';
	const int is_scope = end == '/' || (kind != MAPPING_MAP_TENSOR && end == '.');
	/* The likely fix for a scope rule's target is a '/' at its end. */
	const char *fix = to_len ? ": write '" : "";
	const char *fix_end = to_len ? "/'" : "";
	char q[MAPPING_QUOTE_SIZE], q2[MAPPING_QUOTE_SIZE];

	if (kind == MAPPING_MAP_TENSOR && !to_len)
		return perr(p, l->line, col, "empty target name for tensor '%s'",
			    mapping_quote(q, from));
	if (kind == MAPPING_MAP_TENSOR && is_scope)
		return perr(
			p, l->line, col,
			"tensor '%s' must map to a tensor name, not to scope '%s' (end FROM with '/' to map a whole scope)",
			mapping_quote(q, from), mapping_quote(q2, to));
	if (kind == MAPPING_MAP_TENSOR || is_scope)
		return 0;
	if (kind == MAPPING_MAP_ROOT)
		return perr(
			p, l->line, col,
			"root '/' must map to a scope ending in '/' (or '/' to keep names)%s%s%s",
			fix, mapping_quote(q2, to), fix_end);
	if (from[from_len - 1] == '.')
		return perr(
			p, l->line, col,
			"prefix '%s' must map to a prefix ending in '.' (or '/' to strip it)%s%s%s",
			mapping_quote(q, from), fix, mapping_quote(q2, to), to_len ? ".'" : "");
	return perr(p, l->line, col,
		    "scope '%s' must map to a scope ending in '/' (or '/' to strip it)%s%s%s",
		    mapping_quote(q, from), fix, mapping_quote(q2, to), fix_end);
}

/* Add `map NAME:from -> to` of line l (from and to: this line's words, or one
 * number of their ranges). */
static int add_map(struct mapping_parser *p, const struct mapping_line *l, size_t name_len,
		   enum mapping_map_kind kind, const char *from, const char *to)
{
	struct mapping *m = p->m;
	struct mapping_map *mp;
	void *q;

	/* "/" as a scope target means "no scope": store "" (see mapping.h). */
	if (kind != MAPPING_MAP_TENSOR && !strcmp(to, "/"))
		to = "";
	q = util_grow(m->maps, &p->maps_cap, m->n_maps + 1, sizeof(*mp));
	if (!q)
		return oom(p);
	m->maps = q;
	mp = &m->maps[m->n_maps];
	memset(mp, 0, sizeof(*mp));
	mp->kind = kind;
	mp->from = strdup(from);
	mp->to = strdup(to);
	if (!mp->from || !mp->to) {
		free(mp->from);
		free(mp->to);
		return oom(p);
	}
	m->n_maps++;
	mp->from_len = strlen(from);
	mp->to_len = strlen(to);
	mp->pos = pos_at(p, l, 0);
	mp->from_pos = pos_at(p, l, 1);
	mp->to_pos = pos_at(p, l, 3);
	return add_ref(p, l, 1, name_len, 1, m->n_maps - 1);
}

static int add_one(struct mapping_parser *p, const struct mapping_line *l, size_t name_len,
		   const char *from, const char *to)
{
	enum mapping_map_kind kind = map_kind(from, strlen(from));

	if (check_target(p, l, l->tok[3].col, kind, from, to))
		return -EINVAL;
	return add_map(p, l, name_len, kind, from, to);
}

static int has_range(const char *w)
{
	struct mapping_range r;
	char why[96];
	size_t off;

	return mapping_range_find(w, &r, &off, why, sizeof(why)) != 0;
}

/* One map per number of the ranges rf (of from) and rt (of to), in step. */
static int expand(struct mapping_parser *p, const struct mapping_line *l, size_t name_len,
		  const char *from, const struct mapping_range *rf, const char *to,
		  const struct mapping_range *rt)
{
	int rc = 0;

	for (uint64_t k = 0; rc == 0 && k <= rf->last - rf->first; k++) {
		char *f = mapping_range_subst(from, rf, rf->first + k);
		char *t = f ? mapping_range_subst(to, rt, rt->first + k) : NULL;

		rc = t ? 0 : oom(p);
		/* what a line says is what a mapping printed from it says */
		if (rc == 0 && (has_range(f) || has_range(t)))
			rc = perr(
				p, l->line, l->tok[1].col,
				"invalid range: its numbers would make another range of the name");
		if (rc == 0)
			rc = add_one(p, l, name_len, f, t);
		free(f);
		free(t);
	}
	return rc;
}

/* The range of word w (at column col), 0 if none, 1, or -EINVAL reported. */
static int find_range(struct mapping_parser *p, const struct mapping_line *l, int col,
		      const char *w, struct mapping_range *r)
{
	char why[96];
	size_t off = 0;
	int rc = mapping_range_find(w, r, &off, why, sizeof(why));

	if (rc < 0)
		return perr(p, l->line, col + (int)off, "invalid range: %s", why);
	return rc;
}

/* A line with ranges: both words have one, of the same length. */
static int add_ranges(struct mapping_parser *p, const struct mapping_line *l, size_t name_len,
		      const char *from, int has_f, const struct mapping_range *rf, const char *to,
		      int has_t, const struct mapping_range *rt)
{
	const int fcol = l->tok[1].col + (int)name_len + 1, tcol = l->tok[3].col;

	if (!has_t)
		return perr(p, l->line, fcol + (int)rf->at,
			    "a range in FROM needs one in TO (map NAME:A.{0..3}. -> B.{4..7}.)");
	if (!has_f)
		return perr(p, l->line, tcol + (int)rt->at,
			    "a range in TO needs one in FROM (map NAME:A.{0..3}. -> B.{4..7}.)");
	if (rf->last - rf->first != rt->last - rt->first)
		return perr(p, l->line, tcol + (int)rt->at,
			    "range {%llu..%llu} has %llu numbers, FROM's {%llu..%llu} has %llu",
			    (unsigned long long)rt->first, (unsigned long long)rt->last,
			    (unsigned long long)(rt->last - rt->first + 1),
			    (unsigned long long)rf->first, (unsigned long long)rf->last,
			    (unsigned long long)(rf->last - rf->first + 1));
	return expand(p, l, name_len, from, rf, to, rt);
}

/* `map NAME:FROM -> TO`, FROM and TO with one `{FIRST..LAST}` each, or none */
static int parse_map(struct mapping_parser *p, const struct mapping_line *l)
{
	struct mapping_range rf, rt;
	size_t name_len;
	const char *from, *to;
	int has_f, has_t;

	if (want_word(p, l, 1, "'NAME:FROM'", MAP_USAGE) ||
	    want_unglued(p, l, 1, "->", MAP_USAGE) ||
	    split_ref(p, l, 1, "tensor name", MAP_USAGE, &name_len) ||
	    want_punct(p, l, 2, "->", MAP_USAGE) ||
	    want_word(p, l, 3, "a target name", MAP_USAGE) ||
	    want_end(p, l, 4, "quote a name that contains blanks"))
		return -EINVAL;
	from = l->tok[1].text + name_len + 1;
	to = l->tok[3].text;
	has_f = find_range(p, l, l->tok[1].col + (int)name_len + 1, from, &rf);
	has_t = has_f < 0 ? -EINVAL : find_range(p, l, l->tok[3].col, to, &rt);
	if (has_f < 0 || has_t < 0)
		return -EINVAL;
	if (has_f || has_t)
		return add_ranges(p, l, name_len, from, has_f, &rf, to, has_t, &rt);
	return add_one(p, l, name_len, from, to);
}

/* `exclude NAME:GLOB` or `exclude *:GLOB` */
static int parse_exclude(struct mapping_parser *p, const struct mapping_line *l)
{
	struct mapping *m = p->m;
	struct mapping_exclude *ex;
	size_t name_len;
	void *q;

	if (want_word(p, l, 1, "'NAME:GLOB'", EXCLUDE_USAGE) ||
	    split_ref(p, l, 1, "glob", EXCLUDE_USAGE, &name_len) ||
	    want_end(p, l, 2, "quote a glob that contains blanks"))
		return -EINVAL;
	q = util_grow(m->excludes, &p->excludes_cap, m->n_excludes + 1, sizeof(*ex));
	if (!q)
		return oom(p);
	m->excludes = q;
	ex = &m->excludes[m->n_excludes];
	ex->source = -1;
	ex->glob = strdup(l->tok[1].text + name_len + 1);
	if (!ex->glob)
		return oom(p);
	ex->pos = pos_at(p, l, 0);
	m->n_excludes++;
	if (name_len == 1 && l->tok[1].text[0] == '*')
		return 0;
	return add_ref(p, l, 1, name_len, 0, m->n_excludes - 1);
}

/*
 * A second `prefix`, `layout`, `format`, `checkpoint`, `unmapped` or
 * `max_shard_size` line;
 * first is the first one's position.
 */
static int want_first(struct mapping_parser *p, const struct mapping_line *l,
		      const struct mapping_pos *first)
{
	if (!first->line)
		return 0;
	return perr(p, l->line, l->tok[0].col, "duplicate '%s' (first set at line %d)",
		    l->tok[0].text, first->line);
}

/* `prefix = NAME`: NAME becomes a file name in the mount. */
static int parse_prefix(struct mapping_parser *p, const struct mapping_line *l)
{
	const struct mapping_token *t;
	char q[MAPPING_QUOTE_SIZE];
	char *s;

	if (want_first(p, l, &p->m->prefix_pos) || want_punct(p, l, 1, "=", PREFIX_USAGE) ||
	    want_word(p, l, 2, "a name", PREFIX_USAGE) ||
	    want_end(p, l, 3, "quote a name that contains blanks"))
		return -EINVAL;
	t = &l->tok[2];
	if (!t->len)
		return perr(p, l->line, t->col, "empty prefix (usage: %s)", PREFIX_USAGE);
	if (strchr(t->text, '/'))
		return perr(
			p, l->line, t->col,
			"prefix '%s' may not contain '/' (it names a file in the mount's top directory)",
			mapping_quote(q, t->text));
	if (!strcmp(t->text, ".") || !strcmp(t->text, ".."))
		return perr(p, l->line, t->col, "prefix '%s' is not a file name", t->text);
	if (!strcmp(t->text, "checkpoint"))
		return perr(
			p, l->line, t->col,
			"prefix 'checkpoint' would clash with the mount's 'checkpoint' state file");
	for (const char *c = t->text; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return perr(p, l->line, t->col,
				    "prefix may not contain control characters");
	s = strdup(t->text);
	if (!s)
		return oom(p);
	free(p->m->prefix);
	p->m->prefix = s;
	p->m->prefix_pos = pos_at(p, l, 0);
	return 0;
}

/*
 * The directives that pick one of a few words: `layout`, `format` and
 * `checkpoint`. Each enum's values are the indexes of its names, and the
 * same tables serve the command line's -o layout= and -o format=.
 */
struct choice {
	const char *what;     /* "layout" */
	const char *usage;    /* LAYOUT_USAGE */
	const char *expected; /* "'single' or 'shards'" */
	const char *const *names;
	size_t n;
};

static const char *const layout_names[] = { "single", "shards" };
static const char *const format_names[] = { "tensorflow", "safetensors", "both" };
static const char *const checkpoint_names[] = { "auto", "object-based", "name-based" };
static const char *const unmapped_names[] = { "shown", "hidden" };

static const struct choice layout_choice = { "layout", LAYOUT_USAGE, "'single' or 'shards'",
					     layout_names, ARRAY_SIZE(layout_names) };
static const struct choice format_choice = { "format", FORMAT_USAGE,
					     "'tensorflow', 'safetensors' or 'both'", format_names,
					     ARRAY_SIZE(format_names) };
static const struct choice checkpoint_choice = { "checkpoint", CHECKPOINT_USAGE,
						 "'auto', 'object-based' or 'name-based'",
						 checkpoint_names, ARRAY_SIZE(checkpoint_names) };

static const struct choice unmapped_choice = { "unmapped", UNMAPPED_USAGE, "'shown' or 'hidden'",
					       unmapped_names, ARRAY_SIZE(unmapped_names) };

static int choice_parse(const struct choice *c, const char *s, int *out)
{
	for (size_t i = 0; s && i < c->n; i++)
		if (!strcmp(s, c->names[i])) {
			*out = (int)i;
			return 0;
		}
	return -EINVAL;
}

static const char *choice_name(const struct choice *c, int value)
{
	return value >= 0 && (size_t)value < c->n ? c->names[value] : "unknown";
}

int mapping_layout_parse(const char *s, enum mapping_layout *out)
{
	int v;

	if (choice_parse(&layout_choice, s, &v))
		return -EINVAL;
	*out = (enum mapping_layout)v;
	return 0;
}

const char *mapping_layout_name(enum mapping_layout layout)
{
	return choice_name(&layout_choice, (int)layout);
}

int mapping_format_parse(const char *s, enum mapping_format *out)
{
	int v;

	if (choice_parse(&format_choice, s, &v))
		return -EINVAL;
	*out = (enum mapping_format)v;
	return 0;
}

const char *mapping_format_name(enum mapping_format format)
{
	return choice_name(&format_choice, (int)format);
}

const char *mapping_checkpoint_name(enum mapping_checkpoint kind)
{
	return choice_name(&checkpoint_choice, (int)kind);
}

/* `WHAT = WORD`, WORD one of c's names: its index into *value. */
static int parse_choice(struct mapping_parser *p, const struct mapping_line *l,
			const struct choice *c, int *value, struct mapping_pos *pos)
{
	const struct mapping_token *t;
	char q[MAPPING_QUOTE_SIZE], usage[64];

	snprintf(usage, sizeof(usage), "usage: %s", c->usage);
	if (want_first(p, l, pos) || want_punct(p, l, 1, "=", c->usage) ||
	    want_word(p, l, 2, c->expected, c->usage) || want_end(p, l, 3, usage))
		return -EINVAL;
	t = &l->tok[2];
	if (choice_parse(c, t->text, value))
		return perr(p, l->line, t->col, "unknown %s '%s' (expected %s)", c->what,
			    mapping_quote(q, t->text), c->expected);
	*pos = pos_at(p, l, 0);
	return 0;
}

static int parse_layout(struct mapping_parser *p, const struct mapping_line *l)
{
	int v = 0;
	int rc = parse_choice(p, l, &layout_choice, &v, &p->m->layout_pos);

	if (rc == 0)
		p->m->layout = (enum mapping_layout)v;
	return rc;
}

static int parse_format(struct mapping_parser *p, const struct mapping_line *l)
{
	int v = 0;
	int rc = parse_choice(p, l, &format_choice, &v, &p->m->format_pos);

	if (rc == 0)
		p->m->format = (enum mapping_format)v;
	return rc;
}

static int parse_checkpoint(struct mapping_parser *p, const struct mapping_line *l)
{
	int v = 0;
	int rc = parse_choice(p, l, &checkpoint_choice, &v, &p->m->checkpoint_pos);

	if (rc == 0)
		p->m->checkpoint = (enum mapping_checkpoint)v;
	return rc;
}

static int parse_unmapped(struct mapping_parser *p, const struct mapping_line *l)
{
	int v = 0;
	int rc = parse_choice(p, l, &unmapped_choice, &v, &p->m->unmapped_pos);

	if (rc == 0)
		p->m->unmapped = (enum mapping_unmapped)v;
	return rc;
}

/* `max_shard_size = SIZE` */
static int parse_max_shard_size(struct mapping_parser *p, const struct mapping_line *l)
{
	const struct mapping_token *t;
	char q[MAPPING_QUOTE_SIZE];
	uint64_t n = 0;
	int rc;

	if (want_first(p, l, &p->m->max_shard_size_pos) ||
	    want_punct(p, l, 1, "=", MAX_SHARD_SIZE_USAGE) ||
	    want_word(p, l, 2, "a size", MAX_SHARD_SIZE_USAGE) ||
	    want_end(p, l, 3, "usage: " MAX_SHARD_SIZE_USAGE))
		return -EINVAL;
	t = &l->tok[2];
	rc = mapping_size_parse(t->text, &n);
	if (rc)
		return perr(
			p, l->line, t->col,
			"invalid size '%s' (a number above 0, then nothing, B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)",
			mapping_quote(q, t->text));
	p->m->max_shard_size = n;
	p->m->max_shard_size_pos = pos_at(p, l, 0);
	return 0;
}

/* Whether s may name a file of the mount's top directory. */
static int file_name_ok(const char *s)
{
	if (!*s || strlen(s) > 255 || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0; /* 255: NAME_MAX, the longest name lookup and readdir take */
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* `file NAME = SRC:PATH` or `file NAME = PATH` (told apart after the last line) */
static int parse_file(struct mapping_parser *p, const struct mapping_line *l)
{
	struct mapping *m = p->m;
	struct mapping_file *f;
	char q[MAPPING_QUOTE_SIZE];
	void *g;

	if (want_word(p, l, 1, "a file name", FILE_USAGE) ||
	    want_unglued(p, l, 1, "=", FILE_USAGE) || want_punct(p, l, 2, "=", FILE_USAGE) ||
	    want_word(p, l, 3, "a path", FILE_USAGE) ||
	    want_end(p, l, 4, "quote a path that contains blanks"))
		return -EINVAL;
	if (!file_name_ok(l->tok[1].text))
		return perr(
			p, l->line, l->tok[1].col,
			"invalid file name '%s' (a name of the mount's top directory: no '/', at most 255 bytes)",
			mapping_quote(q, l->tok[1].text));
	if (!l->tok[3].len)
		return perr(p, l->line, l->tok[3].col, "empty path (usage: %s)", FILE_USAGE);
	for (size_t i = 0; i < m->n_files; i++)
		if (!strcmp(m->files[i].name, l->tok[1].text))
			return perr(p, l->line, l->tok[1].col,
				    "duplicate file '%s' (first at line %d)",
				    mapping_quote(q, l->tok[1].text), m->files[i].pos.line);
	g = util_grow(m->files, &p->files_cap, m->n_files + 1, sizeof(*f));
	if (!g)
		return oom(p);
	m->files = g;
	f = &m->files[m->n_files];
	*f = (struct mapping_file){ strdup(l->tok[1].text), -1,
				    strdup(l->tok[3].text), NULL,
				    pos_at(p, l, 0),        pos_at(p, l, 3) };
	m->n_files++; /* mapping_free frees what there is */
	return f->name && f->path ? 0 : oom(p);
}

int mapping_resolve_files(struct mapping_parser *p)
{
	struct mapping *m = p->m;

	for (size_t i = 0; i < m->n_files; i++) {
		struct mapping_file *f = &m->files[i];
		const char *colon = strchr(f->path, ':');
		const struct mapping_source *s =
			colon ? mapping_find_source(m, f->path, (size_t)(colon - f->path)) : NULL;

		if (s) {
			memmove(f->path, colon + 1, strlen(colon + 1) + 1);
			f->source = (long)(s - m->sources);
			continue;
		}
		f->resolved_path = resolve_path(p->base_dir, f->path);
		if (!f->resolved_path)
			return oom(p);
	}
	return 0;
}

static const struct directive {
	const char *name;
	const char *usage;
	int (*parse)(struct mapping_parser *p, const struct mapping_line *l);
} directives[] = {
	{ "source", SOURCE_USAGE, parse_source },
	{ "map", MAP_USAGE, parse_map },
	{ "exclude", EXCLUDE_USAGE, parse_exclude },
	{ "prefix", PREFIX_USAGE, parse_prefix },
	{ "layout", LAYOUT_USAGE, parse_layout },
	{ "format", FORMAT_USAGE, parse_format },
	{ "checkpoint", CHECKPOINT_USAGE, parse_checkpoint },
	{ "unmapped", UNMAPPED_USAGE, parse_unmapped },
	{ "max_shard_size", MAX_SHARD_SIZE_USAGE, parse_max_shard_size },
	{ "file", FILE_USAGE, parse_file },
};

int mapping_directive_like(const char *s, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(directives); i++) {
		size_t len = strlen(directives[i].name);
		/* one edit in a short name, two in a long one: "sorce", "mpa" */
		size_t limit = len < 5 ? 1 : 2;

		if (n < MAPPING_QUOTE_SHORT_SIZE &&
		    util_edit_distance(s, n, directives[i].name, len, limit, UTIL_EDIT_SWAP) <=
			    limit)
			return 1;
	}
	return 0;
}

int mapping_parse_line(struct mapping_parser *p, const struct mapping_line *l)
{
	const struct mapping_token *t = &l->tok[0];
	const struct directive *d;
	char q[MAPPING_QUOTE_SIZE];
	size_t i, n;
	int first = p->n_lines++ == 0;

	for (i = 0; i < ARRAY_SIZE(directives); i++) {
		d = &directives[i];
		if (!strcmp(t->text, d->name))
			return d->parse(p, l);
		/* "prefix=x": the blanks around '=' were forgotten. */
		n = strlen(d->name);
		if (!strncmp(d->usage + n, " = ", 3) && !strncmp(t->text, d->name, n) &&
		    t->text[n] == '=')
			return perr(p, l->line, t->col,
				    "missing blanks around '=' in '%s' (usage: %s)",
				    mapping_quote(q, t->text), d->usage);
	}
	/* a file that does not start as a mapping is not one: no word of it is shown */
	if (first && (t->quoted || !mapping_directive_like(t->text, t->len)))
		return perr(
			p, l->line, t->col,
			"not a ckptfs mapping file (its lines start with source, map, exclude, prefix, layout, format or checkpoint)");
	return perr(
		p, l->line, t->col,
		"unknown directive '%s' (expected source, map, exclude, prefix, layout, format, checkpoint, unmapped, max_shard_size or file)",
		mapping_quote_short(q, t->text));
}
