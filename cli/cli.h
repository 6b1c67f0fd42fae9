/*
 * cli.h - the ckptfs subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 bad input or a failed check, 2 a mount that failed.
 * These are the only functions that print; the libraries never do.
 */
#ifndef CKPTFS_CLI_CLI_H
#define CKPTFS_CLI_CLI_H

#include <stdarg.h>
#include <stdio.h>

#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"

struct mapping;
struct view;
struct view_options;

enum cli_status {
	CLI_OK = 0,
	CLI_BAD_INPUT = 1,
	CLI_MOUNT_FAILED = 2,
};

int cli_ls(int argc, char **argv);
/* `ls` of a checkpoint or a mapping's merge; json: as one JSON document. */
int cli_ls_checkpoint(const char *path, int json);
int cli_ls_mapping(const char *path, int json);
/* `ls --objects`: the object tree of a TF2 checkpoint or merge (cli_objects.c). */
int cli_ls_objects(const char *path);
/* `check`: one line on the object graph v carries, if it carries one. */
void cli_print_graph_summary(const struct view *v);
int cli_verify(int argc, char **argv);
int cli_cat(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_materialize(int argc, char **argv);
/*
 * Write into directory dir, under their names, v's files shown from memory
 * (the `file` lines, the index.json of a sharded safetensors output) and,
 * if st, its .safetensors files; 0 or -errno (printed).
 */
int cli_write_files(const struct view *v, const char *dir, int st);
/* `ls` of a safetensors file: its tensors in data order; an exit status. */
int cli_ls_safetensors(const char *path, int json);
int cli_mount(int argc, char **argv, const char *progname);
int cli_tf_plugin(int argc, char **argv);

/* Whether path names a mapping file rather than a checkpoint. */
int cli_is_mapping(const char *path);

/*
 * Open a checkpoint, a local path or an s3:// or http(s):// URL (read
 * through a store of the command's, made on first use), printing the
 * error. 0 with *r set, closed by cli_close_checkpoint(), or -1.
 */
int cli_open_checkpoint(const char *path, struct bundle_reader **r);
void cli_close_checkpoint(struct bundle_reader *r);

/*
 * Everything the command shows passes through these, because names and
 * paths come from files that may be hostile: a tensor name holding "\n"
 * must not forge an `ls` line, nor one holding ESC ] 0 ; retitle the
 * terminal (util_escape says how each byte is shown).
 *
 * cli_put_text: text with its control characters escaped (messages,
 * paths). cli_put_name: a name (len bytes, NULs allowed), backslashes
 * escaped too, so the name reads back unambiguously; ordinary names come
 * out byte-identical. cli_vmessage: a formatted message, as cli_put_text.
 */
void cli_put_text(FILE *f, const char *s);
void cli_put_name(FILE *f, const char *name, size_t len);
__attribute__((format(printf, 2, 0))) void cli_vmessage(FILE *f, const char *fmt, va_list ap);

/* "ckptfs: " + message (as cli_put_text) + newline on stderr. */
__attribute__((format(printf, 1, 2))) void cli_error(const char *fmt, ...);

/*
 * One `ls` line for an entry shown under name: name, dtype, shape, shard,
 * offset, size, tab-separated; '-' for the location of a partitioned one.
 */
void cli_print_entry(FILE *f, const char *name, size_t name_len, const struct bundle_entry *e);
/* The same, ending with end instead of a newline (for extra columns). */
void cli_print_entry_tail(FILE *f, const char *name, size_t name_len, const struct bundle_entry *e,
			  const char *end);

/*
 * Parse mapping and build its view, printing errors and warnings to
 * stderr. 0 with *m and *v set (caller frees both), or -1.
 */
int cli_open_view(const char *mapping, const struct view_options *opt, struct mapping **m,
		  struct view **v);

void cli_human_size(char *buf, size_t len, uint64_t n);

/*
 * JSON output (cli_json.c). cli_json_string: s (n bytes, NULs allowed) as a
 * JSON string; bytes that are not UTF-8 as \udcXX (Python's
 * surrogateescape), control characters as \uXXXX. cli_json_text: a
 * NUL-terminated s the same way, or null for NULL.
 */
void cli_json_string(FILE *f, const char *s, size_t n);
void cli_json_text(FILE *f, const char *s);

/*
 * The tensor list of `ls` on stdout, as text lines or as one JSON document
 * {"tensors": [{name, dtype, shape, shard, offset, size[, source,
 * source_name]}, ...]}. with_source: the two columns of a mapping's list.
 */
struct cli_list {
	int json;
	int with_source;
	size_t n; /* entries written */
};
void cli_list_begin(struct cli_list *l, int json, int with_source);
/*
 * One tensor shown as name; source and key (key_len bytes) say where it
 * comes from when l->with_source (source NULL: written by ckptfs, from no
 * source). All borrowed for the call.
 */
void cli_list_entry(struct cli_list *l, const char *name, size_t name_len,
		    const struct bundle_entry *e, const char *source, const char *key,
		    size_t key_len);
/* Close the list and flush stdout: an exit status. */
int cli_list_end(struct cli_list *l);

#endif
