/*
 * test_util_arena.c - util_arena: items aligned (or packed, for bytes),
 * never moved while the arena grows, large items in chunks of their own
 * without losing the current chunk's room, reset keeping one chunk, and
 * release leaving an arena that works again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/util.h"

static void test_arena_aligns_items(void **state)
{
	struct util_arena a = { 0 };

	(void)state;
	for (size_t n = 0; n < 40; n++) {
		char *b = util_arena_alloc_bytes(&a, 1 + n % 3);
		int64_t *p = util_arena_alloc(&a, sizeof(*p) * (n % 4) + 1);

		assert_non_null(b);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % sizeof(int64_t), 0);
		assert_int_equal((uintptr_t)p % sizeof(void *), 0);
	}
	util_arena_release(&a);
}

static void test_arena_packs_bytes(void **state)
{
	struct util_arena a = { 0 };
	char *x, *y;

	(void)state;
	x = util_arena_alloc_bytes(&a, 3);
	y = util_arena_alloc_bytes(&a, 5);
	assert_ptr_equal(y, x + 3); /* no padding between strings */
	util_arena_release(&a);
}

/* Many items over many chunks: each keeps its bytes where it was put. */
static void test_arena_items_never_move(void **state)
{
	static char *item[5000];
	const size_t n_items = sizeof(item) / sizeof(*item);
	struct util_arena a = { .chunk = 1024 };

	(void)state;
	for (size_t i = 0; i < n_items; i++) {
		size_t n = 1 + i % 50;

		item[i] = util_arena_alloc_bytes(&a, n);
		assert_non_null(item[i]);
		memset(item[i], (int)(i % 251), n);
	}
	for (size_t i = 0; i < n_items; i++)
		for (size_t k = 0; k < 1 + i % 50; k++)
			assert_int_equal((unsigned char)item[i][k], i % 251);
	util_arena_release(&a);
}

/* An item over a quarter chunk gets its own; the current chunk's room stays. */
static void test_arena_large_items(void **state)
{
	struct util_arena a = { .chunk = 1024 };
	char *small, *big, *next, *bigger;

	(void)state;
	small = util_arena_alloc_bytes(&a, 10);
	big = util_arena_alloc_bytes(&a, 257);
	next = util_arena_alloc_bytes(&a, 10);
	assert_non_null(big);
	assert_ptr_equal(next, small + 10);
	memset(big, 'b', 257);
	bigger = util_arena_alloc(&a, 1 << 20); /* past the chunk size */
	assert_non_null(bigger);
	memset(bigger, 'c', 1 << 20);
	assert_int_equal(big[256], 'b');
	assert_null(util_arena_alloc(&a, SIZE_MAX));
	assert_null(util_arena_alloc_bytes(&a, SIZE_MAX - 4));
	util_arena_release(&a);
	/* a first item that is large */
	assert_non_null(util_arena_alloc_bytes(&a, 4096));
	assert_non_null(util_arena_alloc_bytes(&a, 8));
	util_arena_release(&a);
}

static void test_arena_reset_keeps_the_newest_chunk(void **state)
{
	struct util_arena a = { 0 };
	void *first, *again;

	(void)state;
	util_arena_reset(&a); /* an empty arena: nothing to do */
	first = util_arena_alloc(&a, 100);
	for (int i = 0; i < 1000; i++)
		assert_non_null(util_arena_alloc(&a, 1000));
	util_arena_reset(&a);
	again = util_arena_alloc(&a, 100);
	assert_non_null(again);
	assert_ptr_not_equal(again, first); /* the newest chunk, not the first */
	assert_ptr_equal(util_arena_alloc(&a, 8), (char *)again + 104);
	util_arena_release(&a);
	assert_null(a.head);
	assert_int_equal(a.used, 0);
	assert_int_equal(a.cap, 0);
	assert_non_null(util_arena_alloc(&a, 8)); /* usable again */
	util_arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_aligns_items),
		cmocka_unit_test(test_arena_packs_bytes),
		cmocka_unit_test(test_arena_items_never_move),
		cmocka_unit_test(test_arena_large_items),
		cmocka_unit_test(test_arena_reset_keeps_the_newest_chunk),
	};

	return cmocka_run_group_tests_name("util_arena", tests, NULL, NULL);
}
