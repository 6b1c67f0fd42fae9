/*
 * internal.h - helpers shared by the files of objgraph/ (not for other
 * modules).
 */
#ifndef CKPTFS_OBJGRAPH_INTERNAL_H
#define CKPTFS_OBJGRAPH_INTERNAL_H

#include <stddef.h>

/*
 * Format a message into (err, errlen) when err is non-NULL and return code
 * (a negative errno), so a failing path is one line:
 *	return objgraph_errf(err, errlen, -EBADMSG, "node %d: ...", node);
 */
__attribute__((format(printf, 4, 5))) int objgraph_errf(char *err, size_t errlen, int code,
							const char *fmt, ...);

#endif
