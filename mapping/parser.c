/*
 * parser.c - mapping_parse_buffer(): run the lexer's lines through the
 * directives (directive.c), then apply the checks that need the whole
 * file. A source may be declared after the `map` and `exclude` lines that
 * use it, so their source names are looked up only after the last line.
 * The first error stops the parse.
 */
#include "mapping/directive.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/lexer.h"
#include "mapping/mapping.h"

#define DEFAULT_PREFIX "model.ckpt"

/* Checks that need the whole file: something to mount, known sources. */
static int finish(struct mapping_parser *p)
{
	const struct mapping_source *src;
	struct mapping *m = p->m;
	const struct mapping_source_ref *ref;
	const struct mapping_pos file = { m->file, 0, 0 };
	char q[MAPPING_QUOTE_SIZE];
	size_t i, idx;

	if (!m->n_sources)
		return mapping_diag(p->err, p->errlen, -EINVAL, &file, "error",
				    "no 'source' lines: nothing to mount");
	if (!m->n_maps)
		return mapping_diag(p->err, p->errlen, -EINVAL, &file, "error",
				    "no 'map' lines: nothing to mount");
	for (i = 0; i < p->n_refs; i++) {
		ref = &p->refs[i];
		src = mapping_find_source(m, ref->name, strlen(ref->name));
		if (!src)
			return mapping_diag(p->err, p->errlen, -EINVAL,
					    &ref->pos, "error",
					    "unknown source '%s'",
					    mapping_quote(q, ref->name));
		idx = (size_t)(src - m->sources);
		if (ref->is_map)
			m->maps[ref->item].source = idx;
		else
			m->excludes[ref->item].source = (long)idx;
	}
	return 0;
}

static struct mapping *mapping_new(const char *name)
{
	struct mapping *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->file = strdup(name);
	m->prefix = strdup(DEFAULT_PREFIX);
	if (!m->file || !m->prefix) {
		mapping_free(m);
		return NULL;
	}
	m->prefix_pos.file = m->file;
	m->layout_pos.file = m->file;
	m->layout = MAPPING_LAYOUT_SINGLE;
	m->format_pos.file = m->file;
	m->format = MAPPING_FORMAT_TENSORFLOW;
	m->checkpoint_pos.file = m->file;
	m->checkpoint = MAPPING_CHECKPOINT_AUTO;
	return m;
}

static int parse_lines(struct mapping_parser *p, const char *buf, size_t len)
{
	struct mapping_line l = MAPPING_LINE_INIT;
	struct mapping_lexer lx;
	int rc;

	mapping_lexer_init(&lx, p->m->file, buf, len);
	while ((rc = mapping_lexer_next(&lx, &l, p->err, p->errlen)) > 0) {
		rc = mapping_parse_line(p, &l);
		if (rc)
			break;
	}
	mapping_line_release(&l);
	return rc;
}

int mapping_parse_buffer(const char *name, const char *buf, size_t len,
			 const char *base_dir, struct mapping **out,
			 char *err, size_t errlen)
{
	struct mapping_parser p = {
		.base_dir = base_dir,
		.err = err,
		.errlen = errlen,
	};
	const struct mapping_pos pos = { name, 0, 0 };
	size_t i;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	p.m = mapping_new(name ? name : "<buffer>");
	if (!p.m)
		return mapping_diag(err, errlen, -ENOMEM, &pos, "error",
				    "out of memory");
	rc = parse_lines(&p, buf, len);
	if (!rc)
		rc = finish(&p);
	for (i = 0; i < p.n_refs; i++)
		free(p.refs[i].name);
	free(p.refs);
	if (rc) {
		mapping_free(p.m);
		return rc;
	}
	*out = p.m;
	return 0;
}

void mapping_free(struct mapping *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_sources; i++) {
		free(m->sources[i].name);
		free(m->sources[i].path);
		free(m->sources[i].resolved_path);
	}
	for (i = 0; i < m->n_maps; i++) {
		free(m->maps[i].from);
		free(m->maps[i].to);
	}
	for (i = 0; i < m->n_excludes; i++)
		free(m->excludes[i].glob);
	free(m->sources);
	free(m->maps);
	free(m->excludes);
	free(m->prefix);
	free(m->file);
	free(m);
}
