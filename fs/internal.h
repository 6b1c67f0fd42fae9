/*
 * internal.h - helpers shared by the files of fs/ (not for other modules).
 */
#ifndef CKPTFS_FS_INTERNAL_H
#define CKPTFS_FS_INTERNAL_H

#include <stddef.h>

/*
 * Format a message into the caller's (err, errlen) when err is non-NULL
 * and return code (a negative errno), so a failing path is one line:
 *	return fs_errf(err, errlen, -ENOTDIR, "mountpoint '%s' is not a directory", path);
 * The one way fs/ writes an error message (bundle/ has bundle_errf).
 */
__attribute__((format(printf, 4, 5))) int fs_errf(char *err, size_t errlen, int code,
						  const char *fmt, ...);

#endif /* CKPTFS_FS_INTERNAL_H */
