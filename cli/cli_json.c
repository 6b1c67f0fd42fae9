/*
 * cli_json.c - the --json output of `ls` and `check`: JSON strings for
 * names that are arbitrary bytes, and the tensor list both share.
 *
 * A name that is UTF-8 comes out as that text. A byte that is not part of
 * well-formed UTF-8 comes out as the lone surrogate \udcXX (XX the byte:
 * Python's "surrogateescape"), so json.loads() gives a str that
 * os.fsencode() (or .encode("utf-8", "surrogateescape")) turns back into
 * the exact bytes. Control characters (C0, DEL, C1) are \uXXXX escapes, so
 * the output is one line of printable text whatever a name holds.
 */
#include "cli/cli.h"

#include <string.h>

#include "util/util.h"

void cli_json_string(FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < n;) {
		size_t k = util_utf8_len(s + i, n - i);
		unsigned c = u[i];

		if (!k) { /* not UTF-8: the byte as a lone low surrogate */
			fprintf(f, "\\udc%02x", c);
			i++;
		} else if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
			i++;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			fputs(c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r", f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else if (c == 0xc2 && u[i + 1] < 0xa0) { /* C1 control, U+0080..U+009F */
			fprintf(f, "\\u%04x", u[i + 1]);
			i += 2;
		} else {
			fwrite(s + i, 1, k, f);
			i += k;
		}
	}
	fputc('"', f);
}

void cli_json_text(FILE *f, const char *s)
{
	if (s)
		cli_json_string(f, s, strlen(s));
	else
		fputs("null", f);
}

void cli_list_begin(struct cli_list *l, int json, int with_source)
{
	*l = (struct cli_list){ .json = json, .with_source = with_source, .n = 0 };
	if (json)
		fputs("{\"tensors\": [", stdout);
}

/* The entry's fields as JSON members (no braces). */
static void json_entry(const char *name, size_t name_len, const struct bundle_entry *e)
{
	const char *dt = bundle_dtype_name(e->dtype);

	fputs("\"name\": ", stdout);
	cli_json_string(stdout, name, name_len);
	fputs(", \"dtype\": ", stdout);
	cli_json_text(stdout, dt ? dt : "unknown");
	fputs(", \"shape\": [", stdout);
	for (int i = 0; i < e->rank; i++)
		printf("%s%lld", i ? ", " : "", (long long)e->dims[i]);
	if (e->n_slices)
		fputs("], \"shard\": null, \"offset\": null, \"size\": null", stdout);
	else
		printf("], \"shard\": %d, \"offset\": %lld, \"size\": %lld", e->shard_id,
		       (long long)e->offset, (long long)e->size);
}

void cli_list_entry(struct cli_list *l, const char *name, size_t name_len,
		    const struct bundle_entry *e, const char *source, const char *key,
		    size_t key_len)
{
	if (!l->json) {
		if (!l->with_source) {
			cli_print_entry(stdout, name, name_len, e);
			return;
		}
		cli_print_entry_tail(stdout, name, name_len, e, "\t");
		if (!source) {
			puts("-\t-");
			return;
		}
		printf("%s\t", source);
		cli_put_name(stdout, key, key_len);
		putchar('\n');
		return;
	}
	fputs(l->n ? ",\n  {" : "\n  {", stdout);
	json_entry(name, name_len, e);
	if (l->with_source) {
		fputs(", \"source\": ", stdout);
		cli_json_text(stdout, source);
		fputs(", \"source_name\": ", stdout);
		if (source)
			cli_json_string(stdout, key, key_len);
		else
			fputs("null", stdout);
	}
	putchar('}');
	l->n++;
}

int cli_list_end(struct cli_list *l)
{
	if (l->json)
		fputs(l->n ? "\n]}\n" : "]}\n", stdout);
	return fflush(stdout) == 0 && !ferror(stdout) ? CLI_OK : CLI_BAD_INPUT;
}
