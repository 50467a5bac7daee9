/*
 * test_htab.c - the core's keyed-object table (src/core/htab.c) against a
 * plain array, including the paths a normal run never takes.
 *
 * Every other test reaches the table only through bind/connect/listen,
 * where it stays small and always manages to grow.  Here random inserts
 * and removals are checked after every step against a reference list
 * (find of every live key and of removed ones, a full walk with
 * st_htab_next), which exercises the backward-shift deletion across the
 * end of the slot array; and the same is done while every growth fails
 * (the failure hook armed before each insert), which fills the slots to
 * the last free one and sends nodes to the overflow list, and then with
 * growth allowed again, which must move them back.  The object pool is
 * checked for alignment, zeroing, reuse and failure injection.
 *
 * The internal headers are included by relative path, as test_netconf.c
 * does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/core/net_internal.h"

enum { NOBJ = 3000 };

typedef struct tobj {
	st_hnode h;
	int id;
	bool live;
} tobj;

static st_hkey key_of(int id)
{
	st_hkey k;
	memset(&k, 0, sizeof(k));
	k.type = HT_AGG;
	k.port = (uint16_t)id;
	k.uid = (uint32_t)id * 2654435761u;
	k.addr.b[15] = (uint8_t)(id >> 8);
	return k;
}

static uint64_t rng_state = 12345;
static uint32_t rnd(uint32_t n)
{
	return (uint32_t)((st_splitmix64(&rng_state) >> 32) % n);
}

/* The table holds exactly the live objects. */
static void check_all(const st_htab *t, tobj *o, int n)
{
	size_t live = 0;
	for (int i = 0; i < n; i++) {
		st_hkey k = key_of(o[i].id);
		st_hnode *f = st_htab_find(t, &k, st_htab_hash(t, &k));
		if (o[i].live) {
			assert_ptr_equal(f, &o[i].h);
			live++;
		} else {
			assert_null(f);
		}
	}
	assert_int_equal(t->count + t->novf, live);
	size_t cur = 0, seen = 0;
	for (st_hnode *x; (x = st_htab_next(t, &cur)) != NULL;) {
		assert_true(((tobj *)(void *)x)->live);
		seen++;
	}
	assert_int_equal(seen, live);
	assert_true(t->count < t->nlines * 4); /* a free slot ends every probe */
}

static void insert(st_htab *t, tobj *o)
{
	st_hkey k = key_of(o->id);
	st_htab_insert(t, &o->h, &k, st_htab_hash(t, &k));
	o->live = true;
}

static void remove_one(st_htab *t, tobj *o)
{
	st_htab_remove(t, &o->h);
	o->live = false;
}

static void run_random(bool growth_fails, int nobj)
{
	st_htab t;
	assert_int_equal(st_htab_init(&t, st_sipkey_derive(99, 4), 8), 0);
	tobj *o = calloc((size_t)nobj, sizeof(*o));
	assert_non_null(o);
	for (int i = 0; i < nobj; i++)
		o[i].id = i;
	size_t max_ovf = 0;
	for (int step = 0; step < 6 * nobj; step++) {
		tobj *x = &o[rnd((uint32_t)nobj)];
		/* Mostly inserts until most are live, then churn. */
		if (!x->live && rnd(3) != 0) {
			if (growth_fails)
				st_alloc_fail_at(1);
			insert(&t, x);
			st_alloc_fail_at(0);
		} else if (x->live) {
			remove_one(&t, x);
		}
		if (t.novf > max_ovf)
			max_ovf = t.novf;
		if (step % 97 == 0 || growth_fails)
			check_all(&t, o, nobj);
	}
	check_all(&t, o, nobj);
	if (growth_fails) {
		/* The first table never grew: it filled and overflowed. */
		assert_true(max_ovf > 0);
		/* Growth allowed again: each insert doubles the table and
		 * moves overflow nodes back while the load stays <= 3/4. */
		for (int i = 0; i < nobj && t.novf; i++)
			if (!o[i].live) {
				insert(&t, &o[i]);
				check_all(&t, o, nobj);
			}
		assert_int_equal(t.novf, 0);
		assert_true(t.count * 4 <= t.nlines * 4 * 3);
		check_all(&t, o, nobj);
	}
	/* Remove everything in a random order. */
	for (int i = nobj - 1; i > 0; i--) {
		int j = (int)rnd((uint32_t)i + 1);
		tobj tmp = o[i];
		o[i] = o[j];
		o[j] = tmp;
	}
	/* The objects moved: reinsert the live ones at their new place. */
	st_htab_destroy(&t);
	assert_int_equal(st_htab_init(&t, st_sipkey_derive(98, 4), 8), 0);
	for (int i = 0; i < nobj; i++)
		if (o[i].live)
			insert(&t, &o[i]);
	check_all(&t, o, nobj);
	for (int i = 0; i < nobj; i++)
		if (o[i].live) {
			remove_one(&t, &o[i]);
			if (i % 53 == 0)
				check_all(&t, o, nobj);
		}
	check_all(&t, o, nobj);
	assert_int_equal(t.count, 0);
	st_htab_destroy(&t);
	free(o);
}

static void test_random_ops(void **state)
{
	(void)state;
	run_random(false, NOBJ);
}

static void test_growth_fails(void **state)
{
	(void)state;
	/* Small: the table stays at 16 slots and the rest overflows. */
	run_random(true, 120);
}

static void count_fn(st_hnode *n, void *ctx)
{
	(void)n;
	(*(int *)ctx)++;
}

static void test_pool(void **state)
{
	(void)state;
	st_htab t;
	assert_int_equal(st_htab_init(&t, st_sipkey_derive(1, 4), 8), 0);
	enum { N = 2000 };
	void **p = calloc(N, sizeof(*p));
	assert_non_null(p);
	for (int i = 0; i < N; i++) {
		p[i] = st_htab_obj_alloc(&t);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 64, 0);
		const unsigned char *b = p[i];
		for (int j = 0; j < ST_HOBJ_SIZE; j++)
			assert_int_equal(b[j], 0);
		memset(p[i], 0xa5, ST_HOBJ_SIZE);
		for (int j = 0; j < i; j += 97)
			assert_ptr_not_equal(p[i], p[j]);
	}
	/* Freed objects are handed out again, newest first, zeroed. */
	st_htab_obj_free(&t, p[10]);
	st_htab_obj_free(&t, p[20]);
	void *a = st_htab_obj_alloc(&t), *b = st_htab_obj_alloc(&t);
	assert_ptr_equal(a, p[20]);
	assert_ptr_equal(b, p[10]);
	assert_int_equal(((unsigned char *)a)[ST_HOBJ_SIZE - 1], 0);
	/* Each object is one allocation attempt for failure injection,
	 * from a chunk or from the free list. */
	st_htab_obj_free(&t, p[5]);
	st_alloc_fail_at(1);
	assert_null(st_htab_obj_alloc(&t));
	assert_int_equal(st_alloc_fail_at(0), 1);
	assert_ptr_equal(st_htab_obj_alloc(&t), p[5]);
	/* Pool objects are marked in their slot: clear() skips them. */
	tobj plain;
	memset(&plain, 0, sizeof(plain));
	st_hkey k1 = key_of(1), k2 = key_of(2);
	st_htab_insert_obj(&t, (st_hnode *)p[0], &k1, st_htab_hash(&t, &k1));
	st_htab_insert(&t, &plain.h, &k2, st_htab_hash(&t, &k2));
	assert_ptr_equal(st_htab_find(&t, &k1, st_htab_hash(&t, &k1)), p[0]);
	int called = 0;
	st_htab_clear(&t, count_fn, &called);
	assert_int_equal(called, 1);
	assert_null(st_htab_find(&t, &k2, st_htab_hash(&t, &k2)));
	st_htab_destroy(&t); /* frees the chunks, and with them p[] */
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_ops),
		cmocka_unit_test(test_growth_fails),
		cmocka_unit_test(test_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
