/*
 * prefetch.c - the store's background fetches (read ahead): a queue of
 * jobs and two threads that run them, started by the first job. A job is
 * a function and its argument; the store never looks inside. The queue is
 * short: a reader far ahead of the network gains nothing from more jobs,
 * so past PREFETCH_QUEUE_MAX a job is cancelled instead of queued.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define PREFETCH_THREADS 2
#define PREFETCH_QUEUE_MAX 4

struct prefetch_job {
	void (*run)(void *arg);
	void (*cancel)(void *arg);
	void *arg;
	struct prefetch_job *next;
};

static void *worker(void *p)
{
	struct store *s = p;

	pthread_mutex_lock(&s->pf.lock);
	for (;;) {
		struct prefetch_job *j;

		while (!s->pf.head && !s->pf.stop)
			pthread_cond_wait(&s->pf.cond, &s->pf.lock);
		if (s->pf.stop)
			break;
		j = s->pf.head;
		s->pf.head = j->next;
		s->pf.pending--;
		pthread_mutex_unlock(&s->pf.lock);
		j->run(j->arg);
		free(j);
		pthread_mutex_lock(&s->pf.lock);
	}
	pthread_mutex_unlock(&s->pf.lock);
	return NULL;
}

/* Start the threads (locked). 0, or -errno when none could start. */
static int start_locked(struct store *s)
{
	/* a child forked after they started (a TensorFlow program loading the
	 * plugin may fork) has a copy of the queue and none of the threads */
	if (s->pf.n_threads && s->pf.pid != getpid())
		return -ECHILD;
	s->pf.pid = getpid();
	while (s->pf.n_threads < PREFETCH_THREADS &&
	       pthread_create(&s->pf.threads[s->pf.n_threads], NULL, worker, s) == 0)
		s->pf.n_threads++;
	return s->pf.n_threads ? 0 : -EAGAIN;
}

void store_prefetch_submit(struct store *s, void (*run)(void *), void (*cancel)(void *), void *arg)
{
	struct prefetch_job *j = malloc(sizeof(*j));
	int queued = 0;

	pthread_mutex_lock(&s->pf.lock);
	if (j && !s->pf.stop && s->pf.pending < PREFETCH_QUEUE_MAX && start_locked(s) == 0) {
		*j = (struct prefetch_job){ run, cancel, arg, NULL };
		if (s->pf.head)
			s->pf.tail->next = j;
		else
			s->pf.head = j;
		s->pf.tail = j;
		s->pf.pending++;
		queued = 1;
		pthread_cond_signal(&s->pf.cond);
	}
	pthread_mutex_unlock(&s->pf.lock);
	if (!queued) {
		free(j);
		cancel(arg);
	}
}

void store_prefetch_init(struct store *s)
{
	pthread_mutex_init(&s->pf.lock, NULL);
	pthread_cond_init(&s->pf.cond, NULL);
}

void store_prefetch_stop(struct store *s)
{
	struct prefetch_job *j;

	pthread_mutex_lock(&s->pf.lock);
	s->pf.stop = 1;
	pthread_cond_broadcast(&s->pf.cond);
	j = s->pf.head;
	s->pf.head = s->pf.tail = NULL;
	s->pf.pending = 0;
	pthread_mutex_unlock(&s->pf.lock);
	while (j) { /* not started: given back */
		struct prefetch_job *next = j->next;

		j->cancel(j->arg);
		free(j);
		j = next;
	}
	for (int i = 0; s->pf.pid == getpid() && i < s->pf.n_threads; i++)
		pthread_join(s->pf.threads[i], NULL); /* running: a fetch ends by its deadline */
	s->pf.n_threads = 0;
	pthread_mutex_destroy(&s->pf.lock);
	pthread_cond_destroy(&s->pf.cond);
}
