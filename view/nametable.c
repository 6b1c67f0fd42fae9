/* nametable.c - open addressing, linear probing, grow at 50% load. */
#include "view/nametable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct nametable_slot {
	const char *name; /* NULL: empty */
	size_t len;
	uint64_t hash;
	uint32_t value;
};

int nametable_init(struct nametable *t, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	t->slots = calloc(cap, sizeof(*t->slots));
	t->cap = cap;
	t->n = 0;
	return t->slots ? 0 : -ENOMEM;
}

void nametable_release(struct nametable *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct nametable_slot *probe(const struct nametable *t, const char *name, size_t len,
				    uint64_t h)
{
	size_t i = h & (t->cap - 1);

	for (;; i = (i + 1) & (t->cap - 1)) {
		struct nametable_slot *s = &t->slots[i];

		if (!s->name || (s->hash == h && s->len == len && !memcmp(s->name, name, len)))
			return s;
	}
}

static int grow(struct nametable *t)
{
	struct nametable old = *t;

	if (nametable_init(t, old.cap) < 0) {
		*t = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].name)
			*probe(t, old.slots[i].name, old.slots[i].len, old.slots[i].hash) =
				old.slots[i];
	t->n = old.n;
	free(old.slots);
	return 0;
}

int nametable_find(const struct nametable *t, const char *name, size_t len, uint32_t *value)
{
	const struct nametable_slot *s;

	if (!t->cap)
		return 0;
	s = probe(t, name, len, XXH3_64bits(name, len));
	if (!s->name)
		return 0;
	*value = s->value;
	return 1;
}

int nametable_insert(struct nametable *t, const char *name, size_t len, uint32_t value,
		     uint32_t *old)
{
	uint64_t h = XXH3_64bits(name, len);
	struct nametable_slot *s;

	if (2 * (t->n + 1) > t->cap && grow(t) < 0)
		return -ENOMEM;
	s = probe(t, name, len, h);
	if (s->name) {
		*old = s->value;
		return 0;
	}
	*s = (struct nametable_slot){ name, len, h, value };
	t->n++;
	return 1;
}
