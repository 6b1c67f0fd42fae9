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
#include "util/util.h"

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
			return mapping_diag(p->err, p->errlen, -EINVAL, &ref->pos, "error",
					    "unknown source '%s'", mapping_quote(q, ref->name));
		idx = (size_t)(src - m->sources);
		if (ref->is_map)
			m->maps[ref->item].source = idx;
		else
			m->excludes[ref->item].source = (long)idx;
	}
	return mapping_resolve_files(p);
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
	m->max_shard_size = MAPPING_MAX_SHARD_SIZE;
	m->max_shard_size_pos.file = m->file;
	return m;
}

/*
 * A lexical error before the first directive (bytes that are not UTF-8
 * text, a control character, a broken quote) in a line whose first word
 * is not a directive: the file is not a mapping, and the lexer's message
 * (which shows the bytes at fault) gives way to one that shows nothing of
 * it. A mapping with a bad first line keeps the precise message.
 */
static int not_a_mapping(struct mapping_parser *p, const struct mapping_lexer *lx)
{
	const char *s = lx->buf + lx->pos, *end = lx->buf + lx->len, *w;
	const struct mapping_pos pos = { p->m->file, lx->line, 0 };

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	for (w = s; w < end && !strchr(" \t#=\r\n", *w) && *w; w++)
		;
	if (mapping_directive_like(s, (size_t)(w - s)))
		return -EINVAL;
	return mapping_diag(p->err, p->errlen, -EINVAL, &pos, "error",
			    "not a ckptfs mapping file (binary, or not UTF-8 text)");
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
	if (rc == -EINVAL && p->n_lines == 0)
		rc = not_a_mapping(p, &lx);
	mapping_line_release(&l);
	return rc;
}

/* A file of a format people mistake for a mapping (Keras 3 weights): say which. */
static int foreign(struct mapping_parser *p, const char *buf, size_t len)
{
	const struct mapping_pos pos = { p->m->file, 0, 0 };
	const char *what = util_file_format(buf, len);

	if (!what)
		return 0;
	return mapping_diag(
		p->err, p->errlen, -EINVAL, &pos, "error",
		"not a ckptfs mapping file, but %s, and not a TensorFlow checkpoint either: tf.train.Checkpoint(model=model).write(PATH) saves one ckptfs reads",
		what);
}

int mapping_parse_buffer(const char *name, const char *buf, size_t len, const char *base_dir,
			 struct mapping **out, char *err, size_t errlen)
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
		return mapping_diag(err, errlen, -ENOMEM, &pos, "error", "out of memory");
	rc = foreign(&p, buf, len);
	if (!rc)
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
	for (i = 0; i < m->n_files; i++) {
		free(m->files[i].name);
		free(m->files[i].path);
		free(m->files[i].resolved_path);
	}
	free(m->files);
	free(m->sources);
	free(m->maps);
	free(m->excludes);
	free(m->prefix);
	free(m->file);
	free(m);
}
