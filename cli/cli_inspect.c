/*
 * cli_inspect.c - `ckptfs ls CKPT`, `ckptfs verify CKPT`, `ckptfs cat CKPT
 * NAME`: look inside one checkpoint.
 */
#include "cli/cli.h"
#include "cli/help.h"
#include "util/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int open_or_complain(const char *path, struct bundle_reader **r)
{
	return cli_open_checkpoint(path, r);
}

/*
 * A safetensors source (a Hugging Face directory, a .safetensors file):
 * its SHARD column is the file that holds the tensor, as the index.json
 * says, not a number.
 */
static int ls_safetensors_source(struct bundle_reader *r)
{
	const int n = bundle_num_shards(r);
	char **names = calloc((size_t)n + 1, sizeof(*names));

	for (int k = 0; names && k < n; k++)
		names[k] = bundle_shard_path(r, k);
	for (size_t i = 0; names && i < bundle_num_entries(r); i++) {
		const struct bundle_entry e = bundle_entry_at(r, i);
		const char *file = names[e.shard_id] ? strrchr(names[e.shard_id], '/') : NULL;
		const char *dt = bundle_dtype_name(e.dtype);

		cli_put_name(stdout, e.key, e.key_len);
		printf("\t%s\t[", dt ? dt : "unknown");
		for (int d = 0; d < e.rank; d++)
			printf("%s%lld", d ? "," : "", (long long)e.dims[d]);
		printf("]\t");
		file = file ? file + 1 : names[e.shard_id];
		if (file)
			cli_put_name(stdout, file, strlen(file));
		printf("\t%lld\t%lld\n", (long long)e.offset, (long long)e.size);
	}
	for (int k = 0; names && k < n; k++)
		free(names[k]);
	if (!names)
		cli_error("out of memory");
	free(names);
	return names ? 0 : -1;
}

int cli_ls_checkpoint(const char *path, int json)
{
	struct bundle_reader *r;
	struct cli_list l;
	int rc;

	if (open_or_complain(path, &r))
		return CLI_BAD_INPUT;
	if (!bundle_has_crcs(r) && !json) { /* shards named by their files */
		rc = ls_safetensors_source(r);
		cli_close_checkpoint(r);
		return rc == 0 && fflush(stdout) == 0 ? CLI_OK : CLI_BAD_INPUT;
	}
	cli_list_begin(&l, json, 0);
	for (size_t i = 0; i < bundle_num_entries(r); i++) {
		const struct bundle_entry ent = bundle_entry_at(r, i), *e = &ent;

		if (!bundle_entry_is_piece(e))
			cli_list_entry(&l, e->key, e->key_len, e, NULL, NULL, 0);
	}
	rc = cli_list_end(&l);
	cli_close_checkpoint(r);
	return rc;
}

/* Grow *buf to hold n bytes; keeps one buffer for a whole verify run. */
static int reserve(void **buf, size_t *cap, size_t n)
{
	void *p;

	if (n <= *cap)
		return 0;
	p = realloc(*buf, n ? n : 1);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

int cli_verify(int argc, char **argv)
{
	struct bundle_reader *r;
	char err[BUNDLE_ERR_MAX];
	size_t cap = 0, n = 0, bad = 0;
	long long bytes = 0;
	void *buf = NULL;

	if (argc != 2)
		return help_usage_error(help_find("verify"), NULL, "expected one CHECKPOINT");
	if (open_or_complain(argv[1], &r))
		return CLI_BAD_INPUT;
	for (size_t i = 0; i < bundle_num_entries(r); i++) {
		const struct bundle_entry ent = bundle_entry_at(r, i), *e = &ent;

		if (e->n_slices)
			continue; /* its pieces are entries of their own */
		n++;
		if (reserve(&buf, &cap, (size_t)e->size) ||
		    bundle_read_tensor(r, e, buf, err, sizeof(err))) {
			cli_error("%s", cap >= (size_t)e->size ? err : "out of memory");
			bad++;
			continue;
		}
		bytes += e->size;
	}
	cli_put_text(stdout, bundle_prefix(r));
	if (bad)
		printf(": %zu of %zu tensors FAILED verification\n", bad, n);
	else if (!bundle_has_crcs(r)) /* safetensors: nothing to check the bytes against */
		printf(": %zu tensors, %lld bytes in %d file(s): all readable (safetensors stores no checksums)\n",
		       n, bytes, bundle_num_shards(r));
	else
		printf(": %zu tensors, %lld bytes in %d shard(s): all checksums match\n", n, bytes,
		       bundle_num_shards(r));
	free(buf);
	cli_close_checkpoint(r);
	return bad ? CLI_BAD_INPUT : CLI_OK;
}

int cli_cat(int argc, char **argv)
{
	struct bundle_entry found;
	const struct bundle_entry *e;
	struct bundle_reader *r;
	char err[BUNDLE_ERR_MAX], name[512];
	void *buf;
	int rc = CLI_BAD_INPUT;

	if (argc != 3)
		return help_usage_error(help_find("cat"), NULL, "expected CHECKPOINT and TENSOR");
	if (open_or_complain(argv[1], &r))
		return CLI_BAD_INPUT;
	e = bundle_lookup(r, argv[2], strlen(argv[2]), &found);
	buf = e ? malloc((size_t)e->size + 1) : NULL;
	if (!e)
		cli_error("'%s': no tensor '%s'", bundle_prefix(r),
			  util_escape(name, sizeof(name), argv[2], strlen(argv[2]),
				      UTIL_ESCAPE_BACKSLASH));
	else if (!buf)
		cli_error("out of memory");
	else if (bundle_read_tensor(r, e, buf, err, sizeof(err)))
		cli_error("%s", err);
	else if (fwrite(buf, 1, (size_t)e->size, stdout) == (size_t)e->size && fflush(stdout) == 0)
		rc = CLI_OK;
	free(buf);
	cli_close_checkpoint(r);
	return rc;
}
