/*
 * cli_mapping.c - `ckptfs check MAPPING`, `ckptfs ls MAPPING`: resolve a
 * mapping exactly as a mount would, and show the result.
 */
#include "cli/cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/help.h"
#include "view/view.h"

/* A view's files as `check` reports them. */
struct check_files {
	const struct view_file *index, *st; /* the .index, the first .safetensors; NULL: none */
	size_t n_st;                        /* .safetensors files */
	uint64_t st_size, st_headers;       /* their bytes, their headers' */
	size_t n_data;                      /* data files */
	size_t n_whole;                     /* of them, one source shard whole */
};

static void count_files(const struct view *v, struct check_files *cf)
{
	*cf = (struct check_files){ NULL, NULL, 0, 0, 0, 0, 0 };
	for (size_t i = 0; i < view_num_files(v); i++) {
		const struct view_file *f = view_file_at(v, i);

		cf->n_data += f->kind == VIEW_FILE_DATA;
		if (f->kind == VIEW_FILE_INDEX)
			cf->index = f;
		if (f->kind == VIEW_FILE_SAFETENSORS && !cf->n_st++)
			cf->st = f;
		if (f->kind == VIEW_FILE_SAFETENSORS) {
			cf->st_size += f->size;
			cf->st_headers += f->mem_len;
		}
		cf->n_whole += view_data_whole_fd(v, i) >= 0;
	}
}

/* One line per source: name, tensors used, prefix. Returns their sum. */
static size_t print_sources(const struct mapping *m, const struct view *v)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_sources; i++) {
		/* source names are [A-Za-z_][A-Za-z0-9_.-]*: safe as they are */
		printf("  source %-12s %6zu tensors  ", m->sources[i].name,
		       view_source_tensors(v, i));
		cli_put_text(stdout, view_source_prefix(v, i));
		putchar('\n');
		n += view_source_tensors(v, i);
	}
	return n;
}

/* The merged checkpoint of n tensors: its files, and how a mount reads them. */
/*
 * Data files that show tensors the merge does not hold (a shards-layout
 * file is its shard, used or not): who reads the mount reads them too.
 */
static void print_exposed(const struct view *v)
{
	for (size_t i = 0; i < view_num_files(v); i++) {
		const struct view_file *f = view_file_at(v, i);
		size_t tensors;
		uint64_t bytes;
		char size[32];

		view_data_exposed(v, i, &tensors, &bytes);
		if (!tensors && !bytes)
			continue;
		cli_human_size(size, sizeof(size), bytes);
		fputs("  ", stdout);
		cli_put_name(stdout, f->name, strlen(f->name));
		printf(" shows %zu tensor(s), %s, that the merge does not hold (its source shard whole): 'unmapped = hidden' serves zeros there\n",
		       tensors, size);
	}
}

/* The files a mount shows from memory: `file` lines, a sharded output's index.json. */
static void print_meta(const struct view *v)
{
	for (size_t i = 0; i < view_num_files(v); i++) {
		const struct view_file *f = view_file_at(v, i);
		char size[32];

		if (f->kind != VIEW_FILE_META)
			continue;
		cli_human_size(size, sizeof(size), f->size);
		fputs("  ", stdout);
		cli_put_name(stdout, f->name, strlen(f->name));
		printf("  %s\n", size);
	}
}

static void print_merged(const struct view *v, size_t n)
{
	struct check_files cf;
	char size[32], isize[32];

	count_files(v, &cf);
	cli_human_size(size, sizeof(size), view_tensor_bytes(v));
	fputs("merged: ", stdout);
	cli_put_name(stdout, view_prefix(v), strlen(view_prefix(v)));
	if (cf.index) {
		cli_human_size(isize, sizeof(isize), cf.index->size);
		printf("  %zu tensors, %s of data in %zu %s file(s), index %s, layout %s\n", n,
		       size, cf.n_data, "data", isize, mapping_layout_name(view_layout(v)));
	} else {
		printf("  %zu tensors, %s of data\n", n, size);
	}
	if (cf.st) {
		cli_human_size(size, sizeof(size), cf.st_size);
		cli_human_size(isize, sizeof(isize), cf.st_headers);
		fputs("  ", stdout);
		cli_put_name(stdout, cf.st->name, strlen(cf.st->name));
		if (cf.n_st > 1)
			printf(" and %zu more shard(s)  %s, headers %s (Hugging Face's sharded layout)\n",
			       cf.n_st - 1, size, isize);
		else
			printf("  %s, header %s\n", size, isize);
	}
	print_meta(v);
	/* the path a mount's reads take (docs/mounting.md, "Passthrough") */
	if (cf.n_whole)
		printf("  %zu of %zu data file(s) are one source shard whole: the kernel reads them from it (FUSE passthrough) where it can\n",
		       cf.n_whole, cf.n_data);
	print_exposed(v);
}

int cli_check(int argc, char **argv)
{
	const struct view_options opt = { .layout = -1, .format = -1 };
	struct mapping *m;
	struct view *v;

	if (argc != 2)
		return help_usage_error(help_find("check"), NULL, "expected one MAPPING");
	if (cli_open_view(argv[1], &opt, &m, &v))
		return CLI_BAD_INPUT;
	cli_put_text(stdout, argv[1]);
	fputs(": ok\n", stdout);
	print_merged(v, print_sources(m, v));
	cli_print_graph_summary(v);
	if (view_num_warnings(v))
		printf("%zu warning(s), see above\n", view_num_warnings(v));
	view_free(v);
	mapping_free(m);
	return CLI_OK;
}

int cli_ls_mapping(const char *path)
{
	const struct view_options opt = { .layout = -1, .format = -1 };
	struct mapping *m;
	struct view *v;

	if (cli_open_view(path, &opt, &m, &v))
		return CLI_BAD_INPUT;
	for (size_t i = 0; i < view_num_tensors(v); i++) {
		struct view_tensor t;

		view_tensor_at(v, i, &t);
		if (bundle_entry_is_piece(&t.entry))
			continue;
		cli_print_entry_tail(stdout, t.name, t.name_len, &t.entry, "\t");
		if (t.rewritten) { /* ckptfs wrote it: from no source */
			puts("-\t-");
			continue;
		}
		printf("%s\t", m->sources[t.source].name);
		cli_put_name(stdout, t.source_key, t.source_key_len);
		putchar('\n');
	}
	view_free(v);
	mapping_free(m);
	return fflush(stdout) == 0 ? CLI_OK : CLI_BAD_INPUT;
}
