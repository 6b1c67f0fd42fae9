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

/*
 * err (a mapping or view error of mapping) as the JSON object {"file",
 * "line", "column", "message"}: "FILE:LINE:COL: error: MSG" when the
 * message starts with the mapping's name, else line and column are null
 * ("FILE: error: MSG", or a bare message: file null too).
 */
static void json_error(const char *mapping, const char *err)
{
	size_t n = strlen(mapping);
	const char *p = err, *file = NULL, *tag = ": error: ";
	long line = 0, col = 0;
	char *end;

	if (!strncmp(err, mapping, n) && err[n] == ':') {
		p = err + n;
		if (p[1] >= '0' && p[1] <= '9') {
			line = strtol(p + 1, &end, 10);
			if (*end == ':' && end[1] >= '0' && end[1] <= '9')
				col = strtol(end + 1, &end, 10);
			p = col ? end : err + n;
		}
		if (!strncmp(p, tag, strlen(tag))) {
			file = mapping;
			p += strlen(tag);
		} else {
			p = err, line = col = 0;
		}
	}
	fputs("\"error\": {\"file\": ", stdout);
	cli_json_text(stdout, file);
	if (line && col)
		printf(", \"line\": %ld, \"column\": %ld", line, col);
	else
		fputs(", \"line\": null, \"column\": null", stdout);
	fputs(", \"message\": ", stdout);
	cli_json_text(stdout, p);
	putchar('}');
}

static const char *file_kind(enum view_file_kind k)
{
	switch (k) {
	case VIEW_FILE_STATE: return "checkpoint";
	case VIEW_FILE_INDEX: return "index";
	case VIEW_FILE_DATA: return "data";
	case VIEW_FILE_SAFETENSORS: return "safetensors";
	case VIEW_FILE_META: return "file"; /* index.json, a `file` line's */
	}
	return "unknown";
}

/* `check --json`'s body for a built view (after "ok": true). */
static void json_summary(const struct mapping *m, const struct view *v)
{
	size_t n = 0;

	fputs("\"prefix\": ", stdout);
	cli_json_text(stdout, view_prefix(v));
	printf(", \"layout\": \"%s\", \"data_bytes\": %llu, \"sources\": [",
	       mapping_layout_name(view_layout(v)), (unsigned long long)view_tensor_bytes(v));
	for (size_t i = 0; i < m->n_sources; i++) {
		fputs(i ? ", {\"name\": " : "{\"name\": ", stdout);
		cli_json_text(stdout, m->sources[i].name);
		printf(", \"tensors\": %zu, \"checkpoint\": ", view_source_tensors(v, i));
		cli_json_text(stdout, view_source_prefix(v, i));
		putchar('}');
		n += view_source_tensors(v, i);
	}
	printf("], \"tensors\": %zu, \"files\": [", n);
	for (size_t i = 0; i < view_num_files(v); i++) {
		const struct view_file *f = view_file_at(v, i);

		fputs(i ? ", {\"name\": " : "{\"name\": ", stdout);
		cli_json_text(stdout, f->name);
		printf(", \"kind\": \"%s\", \"size\": %llu, \"source_shard\": %s}",
		       file_kind(f->kind), (unsigned long long)f->size,
		       view_data_whole_fd(v, i) >= 0 ? "true" : "false");
	}
	putchar(']');
}

/*
 * `check --json MAPPING`: one JSON document on stdout, {"mapping", "ok",
 * "warnings", then the summary or "error"}; exit status as without --json.
 * The error still goes to stderr too, as without --json.
 */
static int check_json(const char *path)
{
	const struct view_options opt = { .layout = -1, .format = -1 };
	struct mapping *m = NULL;
	struct view *v = NULL;
	char err[2048];
	int rc = mapping_parse_file(path, &m, err, sizeof(err));

	if (rc == 0)
		rc = view_build(m, &opt, &v, err, sizeof(err));
	if (rc) {
		cli_put_text(stderr, err);
		fputc('\n', stderr);
	}
	fputs("{\"mapping\": ", stdout);
	cli_json_text(stdout, path);
	printf(", \"ok\": %s, \"warnings\": [", rc ? "false" : "true");
	for (size_t i = 0; v && i < view_num_warnings(v); i++) {
		fputs(i ? ", " : "", stdout);
		cli_json_text(stdout, view_warning(v, i));
	}
	fputs("], ", stdout);
	if (rc)
		json_error(path, err);
	else
		json_summary(m, v);
	puts("}");
	view_free(v);
	mapping_free(m);
	return fflush(stdout) == 0 && !rc ? CLI_OK : CLI_BAD_INPUT;
}

int cli_check(int argc, char **argv)
{
	const struct view_options opt = { .layout = -1, .format = -1 };
	struct mapping *m;
	struct view *v;

	if (argc == 3 && !strcmp(argv[1], "--json"))
		return check_json(argv[2]);
	if (argc == 3 && !strcmp(argv[2], "--json"))
		return check_json(argv[1]);
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

int cli_ls_mapping(const char *path, int json)
{
	const struct view_options opt = { .layout = -1, .format = -1 };
	struct mapping *m;
	struct view *v;
	struct cli_list l;
	int rc;

	if (cli_open_view(path, &opt, &m, &v))
		return CLI_BAD_INPUT;
	cli_list_begin(&l, json, 1);
	for (size_t i = 0; i < view_num_tensors(v); i++) {
		struct view_tensor t;

		view_tensor_at(v, i, &t);
		if (bundle_entry_is_piece(&t.entry))
			continue;
		/* rewritten: ckptfs wrote it (the object graph), from no source */
		cli_list_entry(&l, t.name, t.name_len, &t.entry,
			       t.rewritten ? NULL : m->sources[t.source].name, t.source_key,
			       t.source_key_len);
	}
	rc = cli_list_end(&l);
	view_free(v);
	mapping_free(m);
	return rc;
}
