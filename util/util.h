/*
 * util.h - the few helpers every module needs and none owns: a growable
 * array, an arena, reads and writes that retry until done, an edit
 * distance for "did you mean" hints, UTF-8 checks and escaping for
 * showing untrusted bytes, and CRC32C. Depends on libc (and ISA-L for the
 * CRC's loop) only, so every other module may use it without coupling to
 * another.
 *
 * Errors are negative errno values; nothing here prints.
 */
#ifndef CKPTFS_UTIL_UTIL_H
#define CKPTFS_UTIL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------- arrays */

/* Items in array a (an array, not a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Make room for `need` items of `size` bytes in arr, which holds *cap
 * items: doubles the capacity (at least 8) until need fits. Returns the
 * array, moved or not, and updates *cap; NULL when out of memory or when
 * the size would overflow, with arr still valid and owned by the caller.
 *	p = util_grow(v->items, &v->cap, v->n + 1, sizeof(*v->items));
 */
void *util_grow(void *arr, size_t *cap, size_t need, size_t size);

/* ------------------------------------------------------------- CRC32C */

/*
 * CRC32C (Castagnoli, TensorFlow's checksum) of len bytes at buf,
 * continuing crc (0 to start): util_crc32c(util_crc32c(0, a), b) is the
 * crc of a then b. ISA-L's loop (SSE4.2 and PCLMUL when the CPU has them).
 */
uint32_t util_crc32c(uint32_t crc, const void *buf, size_t len);

/* The crc continued over n zero bytes, in O(log n) without memory. */
uint32_t util_crc32c_zeros(uint32_t crc, uint64_t n);

/* The crc of A then B from crc_a = crc(A), crc_b = crc(B) and B's length:
 * the parts of a range checksummed apart (fetched in parallel) joined. */
uint32_t util_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/* ------------------------------------------------------------- arenas */

/*
 * A bump allocator for many small items that live as long as their owner
 * (an index's slices, a view's tensor names): chunks filled in order and
 * never moved, so pointers stay valid, and freed together, one free() per
 * chunk instead of one per item. Zero-initialise ({0}) before use, and set
 * chunk if the default does not fit; not thread-safe.
 */
#define UTIL_ARENA_CHUNK (64 * 1024)

struct util_arena_chunk;

struct util_arena {
	struct util_arena_chunk *head; /* owned list, newest first */
	size_t used, cap;              /* bytes used and held in head */
	size_t chunk;                  /* bytes per chunk; 0: UTIL_ARENA_CHUNK */
};

/*
 * n bytes aligned for int64_t and pointers (8 bytes, not long double's
 * 16: a tensor's one dimension takes 8), owned by a and never freed
 * alone; NULL when out of memory.
 */
void *util_arena_alloc(struct util_arena *a, size_t n);

/* n bytes with no alignment (for strings), otherwise as util_arena_alloc. */
char *util_arena_alloc_bytes(struct util_arena *a, size_t n);

/*
 * Forget every item but keep the newest chunk, for an arena that holds one
 * item at a time: the next one is then allocated without malloc.
 */
void util_arena_reset(struct util_arena *a);

/* Free every chunk; a is then empty and reusable (chunk is kept). */
void util_arena_release(struct util_arena *a);

/* ---------------------------------------------------------------- I/O */

/*
 * pread() until len bytes are read or the file ends, retrying EINTR and
 * short reads. Returns the bytes read (less than len only at end of file)
 * or a negative errno.
 */
ssize_t util_pread_full(int fd, void *buf, size_t len, int64_t off);

/*
 * pwrite() all len bytes of buf at off, retrying EINTR and short writes.
 * 0, or a negative errno (-EIO if the file takes no more bytes); on an
 * error some of the bytes may have been written.
 */
int util_pwrite_full(int fd, const void *buf, size_t len, int64_t off);

/*
 * Read fd from its current offset to its end into a new buffer. Reads
 * past `max` bytes fail with -EFBIG, so a device or a sparse file cannot
 * make us allocate more than max + 1 bytes. On success *out (owned by the
 * caller, NUL-terminated for text) holds *len bytes. -errno on failure.
 */
int util_read_all(int fd, size_t max, char **out, size_t *len);

/*
 * What a file of this mode is, for a message about a file that should
 * have been regular: "a directory", "a FIFO", "a character device", "a
 * block device" or "a socket" (static strings); NULL for a regular file
 * and any other type.
 */
const char *util_file_kind(mode_t mode);

/*
 * What a file that starts with head (n bytes; 8 are enough) is, when it
 * is a format people hand ckptfs by mistake: "an HDF5 file (Keras 3
 * weights, as model.save_weights writes them)" for HDF5's signature
 * (89 'HDF' 0d 0a 1a 0a), "a ZIP archive (a Keras 3 model, as model.save
 * writes it)" for a ZIP's (a .keras file is one). A static string, or
 * NULL for anything else.
 */
const char *util_file_format(const void *head, size_t n);

/* ---------------------------------------------------------- distances */

enum {
	UTIL_EDIT_FOLD_CASE = 1, /* 'a' and 'A' are the same letter (ASCII) */
	UTIL_EDIT_SWAP = 2,      /* a swap of neighbours is one edit */
};

/* Longest input util_edit_distance() compares; longer ones are "far". */
#define UTIL_EDIT_MAX_LEN 256

/*
 * Levenshtein distance of a and b (la and lb bytes), with the `flags`
 * above; limit + 1 as soon as the distance is known to exceed limit, or
 * when either input is longer than UTIL_EDIT_MAX_LEN. O(la * lb) time,
 * no allocation.
 */
size_t util_edit_distance(const char *a, size_t la, const char *b, size_t lb, size_t limit,
			  unsigned flags);

/* ------------------------------------------------- UTF-8 and escaping */

/*
 * Length of the well-formed UTF-8 sequence at s (n bytes available), or 0
 * if there is none (RFC 3629: no overlong forms, surrogates or values
 * above U+10FFFF; 0 also for n == 0).
 */
size_t util_utf8_len(const char *s, size_t n);

/* Whether s (n bytes) is well-formed UTF-8 throughout. */
int util_is_utf8(const char *s, size_t n);

enum {
	/* also show '\' as "\\", so a shown name reads back unambiguously */
	UTIL_ESCAPE_BACKSLASH = 1,
};

/*
 * Write s (n bytes, NULs allowed) into buf in a form that is safe to show
 * on a terminal and stays on one line: control characters (C0, DEL, and
 * C1 as UTF-8 U+0080..U+009F) become \n, \t, \r or \xNN, a byte that is not
 * part of well-formed UTF-8 becomes \xNN, and with UTIL_ESCAPE_BACKSLASH
 * a backslash becomes \\. Everything else (UTF-8 text) is copied as is,
 * so ordinary names come out byte-identical.
 * buf (len bytes) is always NUL-terminated when len > 0; what does not fit
 * is cut between two characters and ends in "...", so a small buf gives
 * a short excerpt. Returns buf, for use as a printf argument.
 */
char *util_escape(char *buf, size_t len, const char *s, size_t n, unsigned flags);

/*
 * Bytes util_escape() writes for all of s, without the NUL: n when
 * nothing needs escaping.
 */
size_t util_escaped_len(const char *s, size_t n, unsigned flags);

#endif /* CKPTFS_UTIL_UTIL_H */
