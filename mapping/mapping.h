/*
 * mapping.h - parse a ckptfs mapping file (version 1) into directives.
 *
 * The contract is docs/mapping.md. This module only parses: it knows
 * nothing of checkpoints or FUSE. Resolving the directives against real
 * sources is the view's job (view/view.h), which reports its errors at the
 * positions recorded here.
 *
 * Errors: functions return 0 or a negative errno (-EINVAL for a syntax or
 * rule error, -ENOENT/-EACCES/-EIO when the file cannot be read, -ENOMEM)
 * and write the message into the caller's (err, errlen) buffer in compiler
 * form: "FILE:LINE:COL: error: MESSAGE". Parsing stops at the first error.
 * Nothing here prints or exits. A parsed mapping is immutable and may be
 * read from any number of threads.
 */
#ifndef CKPTFS_MAPPING_MAPPING_H
#define CKPTFS_MAPPING_MAPPING_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Where a directive (or a word of it) starts; 1-based. */
struct mapping_pos {
	const char *file; /* borrowed from the owning struct mapping */
	int line;
	int col;
};

enum mapping_layout {
	MAPPING_LAYOUT_SINGLE = 0, /* one virtual .data-00000-of-00001 */
	MAPPING_LAYOUT_SHARDS = 1, /* one virtual data file per used source shard */
};

/* Which files a view shows (`format =`, mapping.md). */
enum mapping_format {
	MAPPING_FORMAT_TENSORFLOW = 0,  /* checkpoint, PREFIX.index, PREFIX.data-* */
	MAPPING_FORMAT_SAFETENSORS = 1, /* PREFIX.safetensors only */
	MAPPING_FORMAT_BOTH = 2,        /* all of them */
};

/*
 * What the merged checkpoint is (`checkpoint =`, mapping.md): TF2's
 * object-based kind carries an object graph that tf.train.Checkpoint
 * restores by; TF1's name-based kind is restored by key alone.
 */
enum mapping_checkpoint {
	MAPPING_CHECKPOINT_AUTO = 0,         /* object-based iff a mapped source is */
	MAPPING_CHECKPOINT_OBJECT_BASED = 1, /* tensors read by name become objects too */
	MAPPING_CHECKPOINT_NAME_BASED = 2,   /* every source read by key, no graph */
};

/*
 * What a data file of the shards layout shows of its shard's tensors the
 * merge does not hold (`unmapped =`, mapping.md).
 */
enum mapping_unmapped {
	MAPPING_UNMAPPED_SHOWN = 0,  /* the file is the shard, byte for byte */
	MAPPING_UNMAPPED_HIDDEN = 1, /* zeros there; served by the daemon */
};

/* `source NAME = PATH` */
struct mapping_source {
	char *name; /* owned */
	char *path; /* owned; as written, unquoted */
	/*
	 * owned; path made absolute-or-relative-to-cwd: a relative path is
	 * joined to the mapping file's directory (for a buffer, to the
	 * directory given at parse time). No file system access.
	 */
	char *resolved_path;
	struct mapping_pos pos;      /* of the `source` keyword */
	struct mapping_pos path_pos; /* of PATH */
};

enum mapping_map_kind {
	MAPPING_MAP_TENSOR = 0, /* FROM is one tensor name, TO its new name */
	MAPPING_MAP_SCOPE = 1,  /* FROM ends in '/'; TO is "/" or ends in '/' */
	MAPPING_MAP_ROOT = 2,   /* FROM is "/"; TO is "/" or ends in '/' */
};

/* `map NAME:FROM -> TO` */
struct mapping_map {
	size_t source; /* index into mapping.sources */
	enum mapping_map_kind kind;
	char *from; /* owned; bytes after "NAME:" */
	size_t from_len;
	/*
	 * owned. For SCOPE and ROOT, "/" is stored as the empty string (strip
	 * / keep names), so a target name is always to + rest-of-name.
	 */
	char *to;
	size_t to_len;
	struct mapping_pos pos;      /* of the `map` keyword */
	struct mapping_pos from_pos; /* of NAME:FROM */
	struct mapping_pos to_pos;   /* of TO */
};

/* `exclude NAME:GLOB` or `exclude *:GLOB` */
struct mapping_exclude {
	long source; /* index into mapping.sources, or -1 for `*` */
	char *glob;  /* owned; fnmatch(3) pattern without FNM_PATHNAME */
	struct mapping_pos pos;
};

/*
 * `file NAME = SRC:PATH` (PATH in source SRC's directory) or `file NAME =
 * PATH` (a local file): a small file the mount shows as it is, e.g. a
 * model's config.json.
 */
struct mapping_file {
	char *name;  /* owned: its name in the mount, a plain file name */
	long source; /* index into mapping.sources, or -1 for a local file */
	/* owned: for a source's file, the path inside its directory; for a
	 * local one, the path as written */
	char *path;
	/* owned: a local path joined to the mapping file's directory (as a
	 * source path is); NULL for a source's file */
	char *resolved_path;
	struct mapping_pos pos;      /* of the `file` keyword */
	struct mapping_pos path_pos; /* of SRC:PATH or PATH */
};

struct mapping {
	char *file;                     /* owned; the name used in messages */
	struct mapping_source *sources; /* owned, n_sources items */
	size_t n_sources;
	struct mapping_map *maps; /* owned, file order */
	size_t n_maps;
	struct mapping_exclude *excludes; /* owned, file order */
	size_t n_excludes;
	struct mapping_file *files; /* owned, file order */
	size_t n_files;
	char *prefix;                       /* owned; "model.ckpt" unless a `prefix =` line says */
	struct mapping_pos prefix_pos;      /* line 0 if defaulted */
	enum mapping_layout layout;         /* SINGLE unless a `layout =` line says */
	struct mapping_pos layout_pos;      /* line 0 if defaulted */
	enum mapping_format format;         /* TENSORFLOW unless a `format =` line says */
	struct mapping_pos format_pos;      /* line 0 if defaulted */
	enum mapping_checkpoint checkpoint; /* AUTO unless a `checkpoint =` line says */
	struct mapping_pos checkpoint_pos;  /* line 0 if defaulted */
	enum mapping_unmapped unmapped;     /* SHOWN unless an `unmapped =` line says */
	struct mapping_pos unmapped_pos;    /* line 0 if defaulted */
	/* the safetensors output's largest shard, in bytes of tensors:
	 * MAPPING_MAX_SHARD_SIZE unless a `max_shard_size =` line says */
	uint64_t max_shard_size;
	struct mapping_pos max_shard_size_pos; /* line 0 if defaulted */
};

/* Hugging Face's default max_shard_size: 5 GB. */
#define MAPPING_MAX_SHARD_SIZE 5000000000ull

/*
 * Parse the mapping file at path. Checks everything that needs no
 * checkpoint: syntax and quoting, known directives, source name syntax and
 * uniqueness, sources referenced by map/exclude exist, `->` form, the
 * scope/non-scope rules of FROM and TO, prefix without '/', layout value.
 * On success *out is freed with mapping_free().
 */
int mapping_parse_file(const char *path, struct mapping **out, char *err, size_t errlen);

/*
 * Same, from memory: name is used in messages, base_dir is the directory
 * relative source paths are joined to (NULL = the current directory).
 * buf need not be NUL-terminated.
 */
int mapping_parse_buffer(const char *name, const char *buf, size_t len, const char *base_dir,
			 struct mapping **out, char *err, size_t errlen);

void mapping_free(struct mapping *m);

/* Parse a layout name ("single" or "shards"); -EINVAL if neither. */
int mapping_layout_parse(const char *s, enum mapping_layout *out);
const char *mapping_layout_name(enum mapping_layout layout);

/* Parse a format name ("tensorflow", "safetensors", "both"); -EINVAL if none. */
int mapping_format_parse(const char *s, enum mapping_format *out);
const char *mapping_format_name(enum mapping_format format);
const char *mapping_checkpoint_name(enum mapping_checkpoint kind);

/*
 * A byte count (`5GB`, `500MiB`, `1000000`): digits, then nothing or
 * B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (of 1024).
 * -EINVAL if it is not one or is 0, -ERANGE above 2^64 - 1.
 */
int mapping_size_parse(const char *s, uint64_t *out);

/*
 * Whether s may name a source: a letter or '_', then letters, digits, '_',
 * '.' and '-' (ASCII). 1 or 0.
 */
int mapping_source_name_ok(const char *s);

/*
 * Format "FILE:LINE:COL: SEVERITY: MESSAGE" into (buf, len) and return
 * code, for callers that report errors at a directive's position (severity
 * is "error" or "warning"). A pos with line 0 prints "FILE: SEVERITY: ...".
 */
__attribute__((format(printf, 6, 7))) int mapping_diag(char *buf, size_t len, int code,
						       const struct mapping_pos *pos,
						       const char *severity, const char *fmt, ...);
__attribute__((format(printf, 6, 0))) int mapping_vdiag(char *buf, size_t len, int code,
							const struct mapping_pos *pos,
							const char *severity, const char *fmt,
							va_list ap);

/*
 * Whether a source path is a URL (SCHEME://...: s3://, https://), which
 * is used as written, never joined to the mapping file's directory.
 */
int mapping_is_url(const char *path);

#endif /* CKPTFS_MAPPING_MAPPING_H */
