/*
 * lexer.c - turn mapping-file text into lines of words with positions.
 *
 * Each line is handled in two passes: first it is checked to be clean
 * UTF-8 text (so an encoding problem is reported at its own column, not as
 * a confusing syntax error), then it is split into words. Every word
 * records the column it starts at; nothing here counts lines after the
 * fact (git's config.c shows how fragile that gets).
 */
#include "mapping/lexer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/mapping.h"
#include "util/util.h"

/* A character of already validated UTF-8 text, and its column. */
struct cursor {
	const char *p;
	const char *end;
	int col;
};

static int lex_error(const struct mapping_lexer *lx, int col, char *err, size_t errlen,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int lex_error(const struct mapping_lexer *lx, int col, char *err, size_t errlen,
		     const char *fmt, ...)
{
	const struct mapping_pos pos = { lx->file, lx->line, col };
	va_list ap;

	va_start(ap, fmt);
	mapping_vdiag(err, errlen, -EINVAL, &pos, "error", fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void mapping_lexer_init(struct mapping_lexer *lx, const char *file, const char *buf, size_t len)
{
	lx->file = file;
	lx->buf = buf;
	lx->len = len;
	lx->pos = 0;
	lx->line = 1;
	/* Some editors start UTF-8 files with a BOM; it is not a character. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		lx->pos = 3;
}

void mapping_line_release(struct mapping_line *l)
{
	free(l->tok);
	free(l->store);
	*l = (struct mapping_line)MAPPING_LINE_INIT;
}

static int bad_char(const struct mapping_lexer *lx, int col, unsigned char c, char *err,
		    size_t errlen)
{
	if (c == '\0')
		return lex_error(lx, col, err, errlen,
				 "unexpected NUL byte (the mapping file must be UTF-8 text)");
	if (c == '\r')
		return lex_error(lx, col, err, errlen,
				 "unexpected carriage return (lines must end in LF or CRLF)");
	return lex_error(lx, col, err, errlen, "unexpected control character 0x%02x", c);
}

static size_t char_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4; }

/*
 * Why the bytes at p (n available) are not UTF-8, at their column: a byte
 * that cannot start a character, a sequence cut short by the end of the
 * line, or the bytes of a broken sequence, naming the two ways a
 * well-formed-looking sequence is still refused.
 */
static int bad_utf8(const struct mapping_lexer *lx, int col, const unsigned char *p, size_t n,
		    char *err, size_t errlen)
{
	size_t want = char_len(*p), k = 1;
	const char *why = "";
	char bytes[24];

	if (*p < 0xc2 || *p > 0xf4)
		return lex_error(lx, col, err, errlen,
				 "invalid UTF-8 byte 0x%02x (the mapping file must be UTF-8)", *p);
	while (k < want && k < n && (p[k] & 0xc0) == 0x80)
		k++;
	if (k < want && k == n)
		why = ", cut short";
	else if (k < want)
		k++; /* show the byte that broke it */
	else if (*p == 0xed && p[1] >= 0xa0)
		why = ", an encoded UTF-16 surrogate";
	else if ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xf0 && p[1] < 0x90))
		why = ", an overlong encoding";
	else if (*p == 0xf4 && p[1] >= 0x90)
		why = ", past U+10FFFF";
	for (size_t i = 0, used = 0; i < k; i++)
		used += (size_t)snprintf(bytes + used, sizeof(bytes) - used, "%s0x%02x",
					 i ? " " : "", p[i]);
	return lex_error(lx, col, err, errlen,
			 "invalid UTF-8 sequence %s%s (the mapping file must be UTF-8)", bytes,
			 why);
}

/* Check that [s, e) is UTF-8 text without control characters but tab. */
static int check_text(const struct mapping_lexer *lx, const char *s, const char *e, char *err,
		      size_t errlen)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = (const unsigned char *)e;
	int col = 1;
	size_t n;

	for (; p < end; p += n, col++) {
		n = util_utf8_len((const char *)p, (size_t)(end - p));
		if (!n)
			return bad_utf8(lx, col, p, (size_t)(end - p), err, errlen);
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return bad_char(lx, col, *p, err, errlen);
	}
	return 0;
}

/* Copy the character at c to *w and step over it. */
static void copy_char(struct cursor *c, char **w)
{
	size_t n = char_len((unsigned char)*c->p);

	memcpy(*w, c->p, n);
	*w += n;
	c->p += n;
	c->col++;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static void skip_blanks(struct cursor *c)
{
	while (c->p < c->end && is_blank(*c->p)) {
		c->p++;
		c->col++;
	}
}

/* An unquoted word: everything up to a blank, a comment or the line end. */
static void lex_plain(struct cursor *c, char **w)
{
	while (c->p < c->end && !is_blank(*c->p) && *c->p != '#')
		copy_char(c, w);
}

/* The escape at c->p (a backslash inside quotes) into *w. */
static int lex_escape(const struct mapping_lexer *lx, struct cursor *c, char **w, char *err,
		      size_t errlen)
{
	const char *next = c->p + 1;

	if (*next != '"' && *next != '\\')
		return lex_error(
			lx, c->col, err, errlen,
			"unknown escape '\\%.*s' in quoted word (write '\\\\' for a backslash)",
			(int)char_len((unsigned char)*next), next);
	*(*w)++ = *next;
	c->p += 2;
	c->col += 2;
	return 0;
}

/* A quoted word, c->p at its opening '"'. */
static int lex_quoted(const struct mapping_lexer *lx, struct cursor *c, char **w, char *err,
		      size_t errlen)
{
	const int open_col = c->col;
	int rc;

	c->p++;
	c->col++;
	for (;;) {
		/* A backslash ending the line escapes nothing: still open. */
		if (c->p == c->end || (*c->p == '\\' && c->p + 1 == c->end))
			return lex_error(lx, open_col, err, errlen,
					 "unterminated quoted word (missing closing '\"')");
		if (*c->p == '"')
			break;
		if (*c->p == '\\') {
			rc = lex_escape(lx, c, w, err, errlen);
			if (rc < 0)
				return rc;
		} else {
			copy_char(c, w);
		}
	}
	c->p++;
	c->col++;
	if (c->p < c->end && !is_blank(*c->p) && *c->p != '#')
		return lex_error(
			lx, c->col, err, errlen,
			"unexpected '%.*s' after closing quote (separate words with blanks)",
			(int)char_len((unsigned char)*c->p), c->p);
	return 0;
}

/*
 * Make room for the words of a line of n bytes: a word takes at least one
 * byte plus a blank, and its text (never longer than as written) one NUL.
 */
static int reserve(struct mapping_line *l, size_t n)
{
	void *p = util_grow(l->store, &l->store_cap, 2 * n + 2, 1);

	if (!p)
		return -ENOMEM;
	l->store = p;
	p = util_grow(l->tok, &l->tok_cap, n / 2 + 2, sizeof(*l->tok));
	if (!p)
		return -ENOMEM;
	l->tok = p;
	return 0;
}

/* Split the validated text [s, e) into out's words. */
static int lex_words(const struct mapping_lexer *lx, const char *s, const char *e,
		     struct mapping_line *out, char *err, size_t errlen)
{
	struct cursor c = { s, e, 1 };
	struct mapping_token *tok;
	char *w = out->store;
	int rc = 0;

	out->n = 0;
	for (;;) {
		skip_blanks(&c);
		if (c.p == c.end || *c.p == '#')
			return 0;
		tok = &out->tok[out->n++];
		tok->text = w;
		tok->col = c.col;
		tok->quoted = *c.p == '"';
		if (tok->quoted)
			rc = lex_quoted(lx, &c, &w, err, errlen);
		else
			lex_plain(&c, &w);
		if (rc < 0)
			return rc;
		tok->len = (size_t)(w - tok->text);
		*w++ = '\0';
		out->end_col = c.col;
	}
}

/* Lex the line at lx->pos into out and move past it. */
static int lex_line(struct mapping_lexer *lx, struct mapping_line *out, char *err, size_t errlen)
{
	const char *s = lx->buf + lx->pos, *end = lx->buf + lx->len;
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	const char *e = nl ? nl : end;
	int rc;

	if (e > s && e[-1] == '\r')
		e--;
	rc = check_text(lx, s, e, err, errlen);
	if (!rc)
		rc = reserve(out, (size_t)(e - s));
	if (rc == -ENOMEM) {
		const struct mapping_pos pos = { lx->file, 0, 0 };

		return mapping_diag(err, errlen, rc, &pos, "error", "out of memory");
	}
	if (!rc)
		rc = lex_words(lx, s, e, out, err, errlen);
	if (rc < 0)
		return rc;
	out->line = lx->line++;
	lx->pos = nl ? (size_t)(nl + 1 - lx->buf) : lx->len;
	return 0;
}

int mapping_lexer_next(struct mapping_lexer *lx, struct mapping_line *out, char *err, size_t errlen)
{
	int rc;

	while (lx->pos < lx->len) {
		rc = lex_line(lx, out, err, errlen);
		if (rc < 0)
			return rc;
		if (out->n)
			return 1;
	}
	return 0;
}
