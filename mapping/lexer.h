/*
 * lexer.h - split a mapping file into lines of words (private to mapping/).
 *
 * The lexical rules are mapping.md's: one directive per line; '#' outside
 * quotes starts a comment; words are separated by blanks (space, tab); a
 * word that starts with '"' runs to the next unescaped '"', and inside it
 * only \" and \\ are escapes. Lines end with "\n" or "\r\n"; the last one
 * may lack its newline. A UTF-8 byte order mark at the very start is
 * skipped.
 *
 * The file must be UTF-8 text: a NUL byte, an invalid UTF-8 sequence or an
 * ASCII control character other than tab is an error at its column.
 *
 * Positions are 1-based. A column counts characters (UTF-8 code points, a
 * tab is one), not bytes, so it matches what an editor shows.
 */
#ifndef CKPTFS_MAPPING_LEXER_H
#define CKPTFS_MAPPING_LEXER_H

#include <stddef.h>

struct mapping_token {
	const char *text; /* NUL-terminated, quotes and escapes removed */
	size_t len;       /* of text; a quoted word may be empty */
	int col;          /* of the word's first character (its '"') */
	int quoted;       /* written in quotes, so never punctuation */
};

/*
 * The words of one line that has at least one. Reused from line to line:
 * tokens and their text stay valid until the next mapping_lexer_next() or
 * mapping_line_release().
 */
struct mapping_line {
	int line;
	int end_col; /* after the last word: where a missing one goes */
	struct mapping_token *tok;
	size_t n;
	char *store; /* owned; backs every tok[i].text */
	size_t store_cap;
	size_t tok_cap;
};

#define MAPPING_LINE_INIT                 \
	{                                 \
		0, 0, NULL, 0, NULL, 0, 0 \
	}

struct mapping_lexer {
	const char *file; /* borrowed; the name used in messages */
	const char *buf;  /* borrowed; need not be NUL-terminated */
	size_t len;
	size_t pos; /* start of the next line */
	int line;   /* number of the line that starts at pos */
};

/* Start lexing buf; file and buf must outlive the lexer. */
void mapping_lexer_init(struct mapping_lexer *lx, const char *file, const char *buf, size_t len);

/*
 * Read up to the next line holding a word (blank and comment-only lines are
 * skipped) into *out. Returns 1 for a line, 0 at the end of the input, or a
 * negative errno: -EINVAL with "FILE:LINE:COL: error: ..." in (err, errlen)
 * for a lexical error, -ENOMEM. After an error the lexer must not be used
 * again.
 */
int mapping_lexer_next(struct mapping_lexer *lx, struct mapping_line *out, char *err,
		       size_t errlen);

/* Free what *l owns and leave it empty (MAPPING_LINE_INIT). */
void mapping_line_release(struct mapping_line *l);

#endif /* CKPTFS_MAPPING_LEXER_H */
