/*
 * directive.h - the parse state shared by parser.c (the driver: lines in,
 * whole-file checks, struct mapping out) and directive.c (one function per
 * directive, which owns this header). Private to mapping/.
 */
#ifndef CKPTFS_MAPPING_DIRECTIVE_H
#define CKPTFS_MAPPING_DIRECTIVE_H

#include <stddef.h>

#include "mapping/mapping.h"

struct mapping_line;

/* A `map` or `exclude` line's source name, looked up after the last line. */
struct mapping_source_ref {
	char *name;             /* owned */
	struct mapping_pos pos; /* of the NAME:... word */
	int is_map;
	size_t item; /* index into maps or excludes */
};

struct mapping_parser {
	struct mapping *m;    /* being built; owned until handed out */
	const char *base_dir; /* borrowed; NULL keeps relative paths */
	struct mapping_source_ref *refs;
	size_t n_refs;
	size_t refs_cap, sources_cap, maps_cap, excludes_cap, files_cap;
	char *err;
	size_t errlen;
	size_t n_lines; /* lines with words handed to mapping_parse_line */
};

/*
 * Add the directive on line l to p->m. Returns 0, or -EINVAL / -ENOMEM
 * with the message in p->err.
 */
int mapping_parse_line(struct mapping_parser *p, const struct mapping_line *l);

/*
 * A word of the file as an error message quotes it: control characters
 * escaped (util_escape), and a word longer than 43 bytes cut to its first
 * 40 and "...". A file that is
 * not a mapping at all (binary, or a private file behind a symlink) is
 * then not echoed into the message; the column says where the word is.
 * Writes buf, MAPPING_QUOTE_SIZE bytes, and returns it.
 */
#define MAPPING_QUOTE_SIZE 44
const char *mapping_quote(char *buf, const char *word);

/*
 * The same, for a word that names nothing of the file's (an unknown
 * directive): at most 16 bytes shown, a longer word cut to its first 13
 * and "...". Writes buf, MAPPING_QUOTE_SHORT_SIZE bytes, and returns it.
 */
#define MAPPING_QUOTE_SHORT_SIZE 17
const char *mapping_quote_short(char *buf, const char *word);

/*
 * Whether the word s (n bytes) at the start of a file's first line may be
 * a directive: one of them, or a short word within an edit or two of one
 * (a typo). A file whose first word is not is no mapping at all, and is
 * not quoted.
 */
int mapping_directive_like(const char *s, size_t n);

/*
 * After the last line: each `file` line's SRC:PATH is a file of source
 * SRC if one is declared so, else a local PATH (resolved). 0 or -ENOMEM.
 */
int mapping_resolve_files(struct mapping_parser *p);

/* The source of m called name (len bytes, need not end in NUL), or NULL. */
const struct mapping_source *mapping_find_source(const struct mapping *m, const char *name,
						 size_t len);

#endif /* CKPTFS_MAPPING_DIRECTIVE_H */
