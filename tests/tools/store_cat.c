/*
 * store_cat.c - print a remote object's bytes (or a range of them) through
 * the store, and the store's counters on stderr: the integration tests
 * drive the store with it, without a checkpoint around the object.
 *   store_cat URL [OFFSET LENGTH]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

int main(int argc, char **argv)
{
	char err[1024];
	struct store *s;
	struct store_obj *o;
	struct store_stats st;
	int64_t off = 0, len;
	char *buf;

	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: store_cat URL [OFFSET LENGTH]\n");
		return 2;
	}
	if (store_new(NULL, &s, err, sizeof(err)) ||
	    store_obj_open(s, argv[1], &o, err, sizeof(err))) {
		fprintf(stderr, "store_cat: %s\n", err);
		return 1;
	}
	len = store_obj_size(o);
	if (argc == 4) {
		off = strtoll(argv[2], NULL, 10);
		len = strtoll(argv[3], NULL, 10);
	}
	buf = malloc(len ? (size_t)len : 1);
	if (!buf || store_obj_read(o, buf, (size_t)len, (uint64_t)off, err, sizeof(err))) {
		fprintf(stderr, "store_cat: %s\n", buf ? err : "out of memory");
		return 1;
	}
	fwrite(buf, 1, (size_t)len, stdout);
	store_get_stats(s, &st);
	fprintf(stderr,
		"requests %" PRIu64 " bytes %" PRIu64 " hits %" PRIu64 " retries %" PRIu64 "\n",
		st.requests, st.bytes, st.cache_hits, st.retries);
	free(buf);
	store_obj_close(o);
	store_free(s);
	return 0;
}
