/*
 * internal.h - helpers shared by the files of bundle/ (not installed, not
 * for other modules).
 */
#ifndef CKPTFS_BUNDLE_INTERNAL_H
#define CKPTFS_BUNDLE_INTERNAL_H

#include <stddef.h>

/*
 * Format a message into (err, errlen) when err is non-NULL and return code
 * (a negative errno), so a failing path is one line:
 *	return bundle_errf(err, errlen, -EBADMSG, "'%s': bad magic", name);
 */
__attribute__((format(printf, 4, 5)))
int bundle_errf(char *err, size_t errlen, int code, const char *fmt, ...);

#endif
