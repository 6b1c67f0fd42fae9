/*
 * fuzz_mapping.c - libFuzzer target for the mapping-file parser
 * (mapping_parse_buffer: lexer, directives, whole-file checks).
 *
 * The input is the mapping text. It is parsed with a fixed base_dir and
 * checked:
 *   - on error: -EINVAL or -ENOMEM, *out NULL, and a message of the form
 *     "fuzz.conf:LINE:COL: error: ..." or "fuzz.conf: error: ...";
 *   - on success: every field obeys mapping.h (source names, resolved
 *     paths, map kinds and targets, exclude sources, prefix, layout,
 *     positions), no string holds a control character;
 *   - the parse is independent of base_dir and errlen: a second parse with
 *     base_dir NULL and a 24-byte error buffer gives the same result;
 *   - printing the mapping back as text (every word quoted) and parsing
 *     that gives the same mapping.
 * Any violation abort()s with a message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE "/fuzz/base"
#define NAME "fuzz.conf"

#define FUZZ_NAME "fuzz_mapping"
#include "tests/fuzz/fuzz_check.h"

static int has_control(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

static void check_pos(const struct mapping *m, const struct mapping_pos *p, const char *what)
{
	CHECK(p->file == m->file, "%s: position not in the mapping's file", what);
	CHECK(p->line >= 1 && p->col >= 1, "%s: position %d:%d", what, p->line, p->col);
}

/* The contract's URL (mapping.md, `source`): SCHEME:// with a lower-case
 * scheme of letters, digits, '+', '.' and '-', kept as written. */
static int is_url(const char *p)
{
	const char *q = p;

	if (*q < 'a' || *q > 'z')
		return 0;
	while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '+' || *q == '.' ||
	       *q == '-')
		q++;
	return !strncmp(q, "://", 3);
}

static void check_mapping(const struct mapping *m, const char *base)
{
	char buf[64];

	CHECK(m->file && !strcmp(m->file, NAME), "file name");
	CHECK(m->n_sources >= 1 && m->n_maps >= 1, "%zu sources, %zu maps", m->n_sources,
	      m->n_maps);
	for (size_t i = 0; i < m->n_sources; i++) {
		const struct mapping_source *s = &m->sources[i];

		CHECK(mapping_source_name_ok(s->name), "bad source name '%s'", s->name);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(s->name, m->sources[j].name), "duplicate source '%s'",
			      s->name);
		CHECK(*s->path && !has_control(s->path), "path '%s'", s->path);
		if (s->path[0] == '/' || !base || is_url(s->path)) {
			CHECK(!strcmp(s->resolved_path, s->path), "resolved '%s' of '%s'",
			      s->resolved_path, s->path);
		} else {
			size_t bl = strlen(base);

			CHECK(!strncmp(s->resolved_path, base, bl) && s->resolved_path[bl] == '/' &&
				      !strcmp(s->resolved_path + bl + 1, s->path),
			      "resolved '%s' of '%s'", s->resolved_path, s->path);
		}
		check_pos(m, &s->pos, "source");
		check_pos(m, &s->path_pos, "source path");
		CHECK(s->path_pos.line == s->pos.line && s->path_pos.col > s->pos.col,
		      "source path position");
	}
	for (size_t i = 0; i < m->n_maps; i++) {
		const struct mapping_map *mp = &m->maps[i];

		CHECK(mp->source < m->n_sources, "map source %zu", mp->source);
		CHECK(mp->from_len == strlen(mp->from) && mp->from_len > 0, "from_len");
		CHECK(mp->to_len == strlen(mp->to), "to_len");
		CHECK(!has_control(mp->from) && !has_control(mp->to),
		      "control character in a name");
		switch (mp->kind) {
		case MAPPING_MAP_ROOT:
			CHECK(!strcmp(mp->from, "/"), "root from '%s'", mp->from);
			CHECK(!mp->to_len || mp->to[mp->to_len - 1] == '/' ||
				      mp->to[mp->to_len - 1] == '.',
			      "root target '%s'", mp->to);
			CHECK(strcmp(mp->to, "/"), "'/' target not stored as ''");
			break;
		case MAPPING_MAP_SCOPE:
			CHECK(mp->from_len > 1 && (mp->from[mp->from_len - 1] == '/' ||
						   mp->from[mp->from_len - 1] == '.'),
			      "scope from '%s'", mp->from);
			CHECK(!mp->to_len || mp->to[mp->to_len - 1] == '/' ||
				      mp->to[mp->to_len - 1] == '.',
			      "scope target '%s'", mp->to);
			CHECK(strcmp(mp->to, "/"), "'/' target not stored as ''");
			break;
		case MAPPING_MAP_TENSOR:
			CHECK(mp->from[mp->from_len - 1] != '/' &&
				      (mp->from_len == 1 || mp->from[mp->from_len - 1] != '.'),
			      "tensor from '%s'", mp->from);
			CHECK(mp->to_len && mp->to[mp->to_len - 1] != '/', "tensor target '%s'",
			      mp->to);
			break;
		default: CHECK(0, "map kind %d", (int)mp->kind);
		}
		check_pos(m, &mp->pos, "map");
		check_pos(m, &mp->from_pos, "map from");
		check_pos(m, &mp->to_pos, "map to");
		CHECK(mp->pos.line == mp->from_pos.line && mp->from_pos.line == mp->to_pos.line &&
			      mp->pos.col < mp->from_pos.col && mp->from_pos.col < mp->to_pos.col,
		      "map positions");
		/* a line with a range is a map per number, all at its line */
		if (i)
			CHECK(mp->pos.line >= m->maps[i - 1].pos.line, "maps out of file order");
	}
	for (size_t i = 0; i < m->n_files; i++) {
		const struct mapping_file *f = &m->files[i];

		CHECK(*f->name && !strchr(f->name, '/') && !has_control(f->name), "file name '%s'",
		      f->name);
		CHECK(f->source < (long)m->n_sources, "file source %ld", f->source);
		CHECK((f->source < 0) == (f->resolved_path != NULL), "file %zu: resolved path", i);
		check_pos(m, &f->pos, "file");
	}
	for (size_t i = 0; i < m->n_excludes; i++) {
		const struct mapping_exclude *x = &m->excludes[i];

		CHECK(x->source >= -1 && x->source < (long)m->n_sources, "exclude source %ld",
		      x->source);
		CHECK(*x->glob && !has_control(x->glob), "glob '%s'", x->glob);
		check_pos(m, &x->pos, "exclude");
	}
	CHECK(*m->prefix && !strchr(m->prefix, '/') && strcmp(m->prefix, ".") &&
		      strcmp(m->prefix, "..") && !has_control(m->prefix),
	      "prefix '%s'", m->prefix);
	CHECK(m->prefix_pos.line || !strcmp(m->prefix, "model.ckpt"), "defaulted prefix '%s'",
	      m->prefix);
	CHECK(m->layout == MAPPING_LAYOUT_SINGLE || m->layout == MAPPING_LAYOUT_SHARDS, "layout %d",
	      (int)m->layout);
	CHECK(!m->layout_pos.line || m->layout_pos.line >= 1, "layout pos");
	{
		enum mapping_layout l;

		CHECK(mapping_layout_parse(mapping_layout_name(m->layout), &l) == 0 &&
			      l == m->layout,
		      "layout name round trip");
	}
	/* diagnostics at recorded positions, into a small buffer */
	mapping_diag(buf, sizeof(buf), -EINVAL, &m->maps[0].to_pos, "warning", "target '%s'",
		     m->maps[0].to);
	CHECK(memchr(buf, '\0', sizeof(buf)), "diag not terminated");
}

static void check_error(int rc, const struct mapping *m, const char *err, size_t errlen)
{
	size_t nl = strlen(NAME);

	CHECK(rc == -EINVAL || rc == -ENOMEM, "rc %d", rc);
	CHECK(m == NULL, "*out set on error");
	CHECK(memchr(err, '\0', errlen), "message not NUL-terminated");
	if (errlen < 64)
		return;
	CHECK(!strncmp(err, NAME, nl) && err[nl] == ':',
	      "message does not start with the file name: %s", err);
	CHECK(strstr(err, ": error: "), "message has no ': error: ': %s", err);
}

/* ---------------------------------------------------------- printing */

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = 2 * (o->len + n + 1);
		o->p = realloc(o->p, o->cap);
		CHECK(o->p, "out of memory");
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

/* A quoted word: only \" and \\ are escapes. */
static void quoted(struct out *o, const char *a, const char *b)
{
	put(o, "\"", 1);
	for (const char *s = a; *s; s++) {
		if (*s == '"' || *s == '\\')
			put(o, "\\", 1);
		put(o, s, 1);
	}
	for (const char *s = b; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			put(o, "\\", 1);
		put(o, s, 1);
	}
	put(o, "\"", 1);
}

static char *print(const struct mapping *m)
{
	struct out o = { 0 };
	char tmp[600];

	for (size_t i = 0; i < m->n_sources; i++) {
		puts_(&o, "source ");
		puts_(&o, m->sources[i].name);
		puts_(&o, " = ");
		quoted(&o, m->sources[i].path, NULL);
		puts_(&o, "\n");
	}
	for (size_t i = 0; i < m->n_maps; i++) {
		const struct mapping_map *mp = &m->maps[i];

		snprintf(tmp, sizeof(tmp), "%s:", m->sources[mp->source].name);
		puts_(&o, "map ");
		quoted(&o, tmp, mp->from);
		puts_(&o, " -> ");
		quoted(&o, mp->kind != MAPPING_MAP_TENSOR && !mp->to_len ? "/" : mp->to, NULL);
		puts_(&o, "\n");
	}
	for (size_t i = 0; i < m->n_excludes; i++) {
		const struct mapping_exclude *x = &m->excludes[i];

		snprintf(tmp, sizeof(tmp), "%s:", x->source < 0 ? "*" : m->sources[x->source].name);
		puts_(&o, "exclude ");
		quoted(&o, tmp, x->glob);
		puts_(&o, "\n");
	}
	if (m->prefix_pos.line) {
		puts_(&o, "prefix = ");
		quoted(&o, m->prefix, NULL);
		puts_(&o, "\n");
	}
	if (m->layout_pos.line) {
		puts_(&o, "layout = ");
		puts_(&o, mapping_layout_name(m->layout));
		puts_(&o, "\n");
	}
	return o.p;
}

static void same_mapping(const struct mapping *a, const struct mapping *b)
{
	CHECK(a->n_sources == b->n_sources && a->n_maps == b->n_maps &&
		      a->n_excludes == b->n_excludes,
	      "counts differ after reprint");
	for (size_t i = 0; i < a->n_sources; i++)
		CHECK(!strcmp(a->sources[i].name, b->sources[i].name) &&
			      !strcmp(a->sources[i].path, b->sources[i].path) &&
			      !strcmp(a->sources[i].resolved_path, b->sources[i].resolved_path),
		      "source %zu differs after reprint", i);
	for (size_t i = 0; i < a->n_maps; i++)
		CHECK(a->maps[i].source == b->maps[i].source &&
			      a->maps[i].kind == b->maps[i].kind &&
			      !strcmp(a->maps[i].from, b->maps[i].from) &&
			      !strcmp(a->maps[i].to, b->maps[i].to),
		      "map %zu differs after reprint", i);
	for (size_t i = 0; i < a->n_excludes; i++)
		CHECK(a->excludes[i].source == b->excludes[i].source &&
			      !strcmp(a->excludes[i].glob, b->excludes[i].glob),
		      "exclude %zu differs after reprint", i);
	CHECK(!strcmp(a->prefix, b->prefix) && a->layout == b->layout,
	      "prefix/layout differ after reprint");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mapping *m = (struct mapping *)1, *m2 = (struct mapping *)1;
	char err[1024], small[24];
	char *copy, *text;
	int rc, rc2;

	/* exact-size, not NUL-terminated: ASan catches reads past the end */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);

	rc = mapping_parse_buffer(NAME, copy, size, BASE, &m, err, sizeof(err));
	rc2 = mapping_parse_buffer(NAME, copy, size, NULL, &m2, small, sizeof(small));
	CHECK(rc == rc2, "rc %d with base_dir, %d without", rc, rc2);
	if (rc) {
		check_error(rc, m, err, sizeof(err));
		check_error(rc2, m2, small, sizeof(small));
		CHECK(!strncmp(err, small, sizeof(small) - 1),
		      "message depends on the buffer: '%s' vs '%s'", err, small);
		free(copy);
		return 0;
	}
	CHECK(m && m2, "no mapping on success");
	check_mapping(m, BASE);
	check_mapping(m2, NULL);

	text = print(m);
	{
		struct mapping *m3 = NULL;

		rc = mapping_parse_buffer(NAME, text, strlen(text), BASE, &m3, err, sizeof(err));
		CHECK(rc == 0, "reprinted mapping does not parse: %s\n%s", err, text);
		same_mapping(m, m3);
		mapping_free(m3);
	}
	free(text);
	mapping_free(m);
	mapping_free(m2);
	free(copy);
	return 0;
}
