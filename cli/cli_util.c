/*
 * cli_util.c - what the subcommands share: the error line, telling a
 * mapping from a checkpoint, an `ls` line, opening a mapping's view with
 * its diagnostics printed, and sizes for people.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "view/view.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ckptfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_is_mapping(const char *path)
{
	char *prefix = NULL;
	struct stat st;

	if (bundle_resolve_prefix(path, &prefix, NULL, 0) == 0) {
		free(prefix);
		return 0;
	}
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void cli_print_entry(FILE *f, const char *name, size_t name_len,
		     const struct bundle_entry *e)
{
	cli_print_entry_tail(f, name, name_len, e, "\n");
}

void cli_print_entry_tail(FILE *f, const char *name, size_t name_len,
			  const struct bundle_entry *e, const char *end)
{
	const char *dt = bundle_dtype_name(e->dtype);

	fwrite(name, 1, name_len, f);
	fprintf(f, "\t%s\t[", dt ? dt : "unknown");
	for (int i = 0; i < e->rank; i++)
		fprintf(f, "%s%lld", i ? "," : "", (long long)e->dims[i]);
	if (e->n_slices)
		fprintf(f, "]\t-\t-\t-%s", end);
	else
		fprintf(f, "]\t%d\t%lld\t%lld%s", e->shard_id,
			(long long)e->offset, (long long)e->size, end);
}

int cli_open_view(const char *mapping, const struct view_options *opt,
		  struct mapping **m, struct view **v)
{
	char err[2048];
	int rc = mapping_parse_file(mapping, m, err, sizeof(err));

	if (rc == 0)
		rc = view_build(*m, opt, v, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		mapping_free(*m);
		*m = NULL;
		return -1;
	}
	for (size_t i = 0; i < view_num_warnings(*v); i++)
		fprintf(stderr, "%s\n", view_warning(*v, i));
	return 0;
}

/* "1.5 GiB": sizes a person reads at a glance. */
void cli_human_size(char *buf, size_t len, uint64_t n)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double x = (double)n;
	int u = 0;

	while (x >= 1024 && u < 5) {
		x /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", x, unit[u]);
}
