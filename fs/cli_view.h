/*
 * cli_view.h - helpers of the subcommands that work on a mapping.
 */
#ifndef CKPTFS_FS_CLI_VIEW_H
#define CKPTFS_FS_CLI_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "fs/view.h"
#include "mapping/mapping.h"

/*
 * Parse mapping and build its view, printing errors and warnings to
 * stderr. 0 with *m and *v set (caller frees both), or -1.
 */
int cli_open_view(const char *mapping, const struct view_options *opt,
		  struct mapping **m, struct view **v);

void cli_human_size(char *buf, size_t len, uint64_t n);

#endif
