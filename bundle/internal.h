/*
 * internal.h - helpers shared by the files of bundle/ (not installed, not
 * for other modules).
 */
#ifndef CKPTFS_BUNDLE_INTERNAL_H
#define CKPTFS_BUNDLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Format a message into (err, errlen) when err is non-NULL and return code
 * (a negative errno), so a failing path is one line:
 *	return bundle_errf(err, errlen, -EBADMSG, "'%s': bad magic", name);
 */
__attribute__((format(printf, 4, 5))) int bundle_errf(char *err, size_t errlen, int code,
						      const char *fmt, ...);

/*
 * Open path read-only as one file of a checkpoint; what names it in
 * messages ("index", "data shard", "'checkpoint' state file"). Refuses,
 * without blocking, anything but a regular file; with BUNDLE_OPEN_PUBLIC
 * in flags also a file not every user could read (bundle.h). Returns the
 * fd (blocking, close-on-exec; the caller closes it) with the file's size
 * in *size, or a negative errno with a message.
 */
int bundle_open_file(const char *path, const char *what, unsigned flags, int64_t *size, char *err,
		     size_t errlen);

/* bundle_resolve_prefix() with bundle_open_flags()'s flags. */
int bundle_resolve_prefix_flags(const char *path, unsigned flags, char **prefix_out, char *err,
				size_t errlen);

/*
 * The prefix a `checkpoint` state file's text names (its
 * model_checkpoint_path, text-format escapes undone, joined to dir when
 * relative), malloc'd; NULL when it names none (or no memory). text (len
 * bytes) is modified.
 */
char *bundle_parse_state(const char *dir, char *text, size_t len);

/*
 * A checkpoint whose files are remote objects (remote.c): resolve url the
 * way bundle_resolve_prefix() resolves a path (a prefix, a directory's
 * `checkpoint` object, a SavedModel), open its index object in *index.
 * On success *prefix_out (malloc'd) and *index (closed by the caller).
 */
struct store;
struct store_obj;
int bundle_remote_resolve(struct store *s, const char *url, char **prefix_out,
			  struct store_obj **index, char *err, size_t errlen);

/*
 * Give each remote shard its tensors as verification units: a tensor is
 * fetched whole and checked against its entry's CRC32C before any of it
 * is read. objs[i] is shard i's object (NULL for a local one).
 */
struct bundle_index;
int bundle_remote_units(const struct bundle_index *idx, struct store_obj **objs, size_t n_objs,
			char *err, size_t errlen);

/*
 * bundle_index_parse() of the size bytes of an open .index file, read
 * block by block (see table_read_fd()).
 */
struct bundle_index;
int bundle_index_read_fd(const char *name, int fd, uint64_t size, struct bundle_index **out,
			 char *err, size_t errlen);

#endif
