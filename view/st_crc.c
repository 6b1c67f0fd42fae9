/*
 * st_crc.c - the CRC32Cs a TensorFlow output needs of tensors that come
 * from a source without them (a safetensors source: bundle_has_crcs() is
 * 0). TensorFlow checks each tensor's CRC32C on restore, so the merged
 * .index must hold the right one. They are computed when the view is
 * built, from the bytes, once per source tensor the merge uses (a tensor
 * under several names is read once), and only when the view shows a
 * TensorFlow checkpoint: the cost is one read of those bytes (ISA-L's
 * CRC32C runs far faster than a disk), paid at mount time, by one thread
 * per CPU (up to CRC_THREADS), each taking the next tensor.
 */
#include "view/view_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

#define CRC_CHUNK (1u << 20)
#define CRC_HAVE (1ull << 32)
#define CRC_QUEUED (1ull << 33) /* a job will compute it */
/* At most this many threads read and checksum at once (one per CPU up to it). */
#define CRC_THREADS 8

/* The masked CRC32C of entry e of reader r, read through buf (CRC_CHUNK bytes). */
static int crc_of(const struct bundle_reader *r, const struct bundle_entry *e, uint8_t *buf,
		  uint32_t *out, char *err, size_t errlen)
{
	const int fd = bundle_shard_fd(r, e->shard_id);
	uint32_t crc = 0;

	for (int64_t done = 0; done < e->size;) {
		size_t n = (size_t)(e->size - done < CRC_CHUNK ? e->size - done : CRC_CHUNK);
		ssize_t got = util_pread_full(fd, buf, n, e->offset + done);
		char a[VIEW_SHOWN_MAX];

		if (got < 0 || (size_t)got != n)
			return view_errf(
				err, errlen, -EIO, NULL,
				"'%s': tensor '%s': cannot read its bytes for its CRC32C (%s)",
				bundle_prefix(r), view_shown(a, e->key, e->key_len),
				got < 0 ? strerror((int)-got) : "file truncated?");
		crc = bundle_crc32c(crc, buf, n);
		done += (int64_t)n;
	}
	*out = bundle_crc_mask(crc);
	return 0;
}

/* A per-entry table for each source without CRCs (NULL for the others). */
static int make_tables(struct view *v)
{
	v->crcs = calloc(v->m->n_sources + 1, sizeof(*v->crcs));
	if (!v->crcs)
		return -ENOMEM;
	for (size_t s = 0; s < v->m->n_sources; s++) {
		const struct bundle_reader *r = v->readers[s];

		if (bundle_has_crcs(r))
			continue;
		v->crcs[s] = calloc(bundle_num_entries(r) + 1, sizeof(**v->crcs));
		if (!v->crcs[s])
			return -ENOMEM;
	}
	return 0;
}

/* One source tensor whose CRC32C is to be computed, into its slot. */
struct job {
	const struct bundle_reader *r;
	uint64_t *slot;
	uint32_t entry;
};

/* The jobs, shared by the threads: each takes the next one until none is left. */
struct pool {
	struct job *jobs; /* owned */
	size_t n, cap;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t mu; /* guards rc and err */
	int rc;
	char *err;
	size_t errlen;
};

static void fail(struct pool *p, int rc, const char *msg)
{
	pthread_mutex_lock(&p->mu);
	if (!p->rc) {
		p->rc = rc;
		if (p->err && p->errlen)
			snprintf(p->err, p->errlen, "%s", msg);
	}
	pthread_mutex_unlock(&p->mu);
	atomic_store(&p->failed, 1);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	uint8_t *buf = malloc(CRC_CHUNK);
	char msg[BUNDLE_ERR_MAX];

	if (!buf)
		fail(p, -ENOMEM, "out of memory");
	while (buf && !atomic_load(&p->failed)) {
		const size_t i = atomic_fetch_add(&p->next, 1);
		const struct job *j = i < p->n ? &p->jobs[i] : NULL;
		struct bundle_entry e;
		uint32_t crc = 0;
		int rc;

		if (!j)
			break;
		/* readers are immutable: any number of threads may read one */
		e = bundle_entry_at(j->r, j->entry);
		rc = crc_of(j->r, &e, buf, &crc, msg, sizeof(msg));
		if (rc)
			fail(p, rc, msg);
		else
			*j->slot = CRC_HAVE | crc; /* its own slot: no other job has it */
	}
	free(buf);
	return NULL;
}

/* The jobs: each source tensor a target uses, once, whose source has no CRC32Cs. */
static int collect_jobs(struct view *v, struct pool *p)
{
	for (size_t i = 0; i < v->n_targets; i++) {
		const struct view_target *t = &v->targets[i];
		const size_t s = view_target_source(v, t);
		uint64_t *slot = t->synth ? NULL : v->crcs[s] ? &v->crcs[s][t->entry] : NULL;
		struct job *j;

		if (!slot || *slot & (CRC_HAVE | CRC_QUEUED))
			continue;
		j = util_grow(p->jobs, &p->cap, p->n + 1, sizeof(*j));
		if (!j)
			return -ENOMEM;
		p->jobs = j;
		p->jobs[p->n++] = (struct job){ v->readers[s], slot, t->entry };
		*slot = CRC_QUEUED;
	}
	return 0;
}

/* Run the jobs in up to CRC_THREADS threads (this one among them). */
static void run_jobs(struct pool *p)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = cpus < 1 ? 1 : (size_t)cpus;
	pthread_t th[CRC_THREADS];
	size_t started = 0;

	n = n > CRC_THREADS ? CRC_THREADS : n;
	n = n > p->n ? p->n : n;
	while (started + 1 < n && pthread_create(&th[started], NULL, worker, p) == 0)
		started++; /* a thread that cannot start leaves its share to the others */
	worker(p);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

int st_crc_compute(struct view *v, char *err, size_t errlen)
{
	struct pool p = { .err = err, .errlen = errlen };
	int rc = 0, any = 0;

	for (size_t s = 0; s < v->m->n_sources; s++)
		any |= !bundle_has_crcs(v->readers[s]);
	if (!any)
		return 0;
	rc = make_tables(v);
	if (rc == 0)
		rc = collect_jobs(v, &p);
	if (rc)
		return view_errf(err, errlen, -ENOMEM, NULL, "out of memory");
	atomic_init(&p.next, 0);
	atomic_init(&p.failed, 0);
	pthread_mutex_init(&p.mu, NULL);
	run_jobs(&p);
	pthread_mutex_destroy(&p.mu);
	free(p.jobs);
	return p.rc;
}

uint32_t st_crc_of(const struct view *v, const struct view_target *t, uint32_t stored)
{
	const size_t s = view_target_source(v, t);

	if (t->synth || !v->crcs || !v->crcs[s])
		return stored;
	return (uint32_t)v->crcs[s][t->entry];
}

void st_crc_free(struct view *v)
{
	for (size_t s = 0; v->crcs && s < v->m->n_sources; s++)
		free(v->crcs[s]);
	free(v->crcs);
	v->crcs = NULL;
}
