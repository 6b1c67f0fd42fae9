/*
 * cli_util.c - what the subcommands share: the error line, text and names
 * shown safely, telling a mapping from a checkpoint, an `ls` line, opening
 * a mapping's view with its diagnostics printed, and sizes for people.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "util/util.h"
#include "view/view.h"

/* Write s (n bytes) escaped with flags; unchanged text goes out as is. */
static void put_escaped(FILE *f, const char *s, size_t n, unsigned flags)
{
	size_t need = util_escaped_len(s, n, flags);
	char stack[1024], *buf = stack;

	if (need == n) {
		fwrite(s, 1, n, f);
		return;
	}
	if (need >= sizeof(stack) && !(buf = malloc(need + 1))) {
		/* no memory for the copy: still never the raw bytes */
		for (size_t i = 0; i < n; i++)
			fputc((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?'
											: s[i],
			      f);
		return;
	}
	fwrite(util_escape(buf, need + 1, s, n, flags), 1, need, f);
	if (buf != stack)
		free(buf);
}

void cli_put_text(FILE *f, const char *s) { put_escaped(f, s, strlen(s), 0); }

void cli_put_name(FILE *f, const char *name, size_t len)
{
	put_escaped(f, name, len, UTIL_ESCAPE_BACKSLASH);
}

void cli_vmessage(FILE *f, const char *fmt, va_list ap)
{
	char stack[2048], *buf = stack;
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(stack, sizeof(stack), fmt, copy);
	va_end(copy);
	if (n >= (int)sizeof(stack) && (buf = malloc((size_t)n + 1)))
		vsnprintf(buf, (size_t)n + 1, fmt, ap);
	if (n >= 0)
		cli_put_text(f, buf ? buf : stack);
	if (buf != stack)
		free(buf);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ckptfs: ", stderr);
	va_start(ap, fmt);
	cli_vmessage(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_is_mapping(const char *path)
{
	char *prefix = NULL;
	struct stat st;

	if (mapping_is_url(path))
		return 0; /* a remote checkpoint */
	if (bundle_resolve_prefix(path, &prefix, NULL, 0) == 0) {
		free(prefix);
		return 0;
	}
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The store remote checkpoints are read with; one at a time. */
static struct store *remote_store;

int cli_open_checkpoint(const char *path, struct bundle_reader **r)
{
	char err[BUNDLE_ERR_MAX];
	int rc = 0;

	if (mapping_is_url(path) && !remote_store)
		rc = store_new(NULL, &remote_store, err, sizeof(err));
	if (rc == 0)
		rc = view_open_source(path, 0, remote_store, r, err, sizeof(err));
	if (rc == 0)
		return 0;
	cli_error("%s", err);
	store_free(remote_store);
	remote_store = NULL;
	return -1;
}

void cli_close_checkpoint(struct bundle_reader *r)
{
	bundle_close(r);
	store_free(remote_store); /* after its objects */
	remote_store = NULL;
}

void cli_print_entry(FILE *f, const char *name, size_t name_len, const struct bundle_entry *e)
{
	cli_print_entry_tail(f, name, name_len, e, "\n");
}

void cli_print_entry_tail(FILE *f, const char *name, size_t name_len, const struct bundle_entry *e,
			  const char *end)
{
	const char *dt = bundle_dtype_name(e->dtype);

	cli_put_name(f, name, name_len);
	fprintf(f, "\t%s\t[", dt ? dt : "unknown");
	for (int i = 0; i < e->rank; i++)
		fprintf(f, "%s%lld", i ? "," : "", (long long)e->dims[i]);
	if (e->n_slices)
		fprintf(f, "]\t-\t-\t-%s", end);
	else
		fprintf(f, "]\t%d\t%lld\t%lld%s", e->shard_id, (long long)e->offset,
			(long long)e->size, end);
}

int cli_open_view(const char *mapping, const struct view_options *opt, struct mapping **m,
		  struct view **v)
{
	char err[2048];
	int rc = mapping_parse_file(mapping, m, err, sizeof(err));

	if (rc == 0)
		rc = view_build(*m, opt, v, err, sizeof(err));
	if (rc) {
		cli_put_text(stderr, err);
		fputc('\n', stderr);
		mapping_free(*m);
		*m = NULL;
		return -1;
	}
	for (size_t i = 0; i < view_num_warnings(*v); i++) {
		cli_put_text(stderr, view_warning(*v, i));
		fputc('\n', stderr);
	}
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
