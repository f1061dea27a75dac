// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace test of dslab's size classes.
 *
 * Compiles the generated table (mm/sizeclasses.h) and the lookup rule of
 * dslab_size_class() (cut out of mm/dslab.h by the Makefile, so this is
 * the kernel's code, not a copy) with a few shims, under ASan and UBSan,
 * and checks the invariants Documentation/design.rst promises:
 *
 *  - every size 1..DSLAB_MAX_SMALL_SIZE maps to the smallest class >= size,
 *    larger sizes to DSLAB_CLASS_LARGE;
 *  - class sizes are strictly increasing multiples of 8, the last is
 *    DSLAB_MAX_SMALL_SIZE, and every power of two from 8 up is a class;
 *  - pages/objects/tail describe the span exactly and the tail is at most
 *    1/8 of the span;
 *  - from 128 bytes up, rounding a request up to its class wastes at most
 *    1/8 of the object: (size - prev - 1) / size <= 1/8;
 *  - div_magic gives off / size exactly for every offset in the span;
 *  - the recorded worst-case waste matches the Go definition.
 *
 * The checker is then run on deliberately broken copies of the table to
 * show that each check can fail.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* === Shims for the kernel code we include === */

typedef uint8_t u8;
typedef uint32_t u32;
typedef uint64_t u64;
#define likely(x) __builtin_expect(!!(x), 1)
#ifndef __always_inline		/* glibc's <sys/cdefs.h> has one */
#define __always_inline inline __attribute__((__always_inline__))
#endif

#include "sizeclasses.h"

#define DSLAB_CLASS_LARGE DSLAB_NR_CLASSES

struct dslab_class_info {
	u32 size;
	u32 npages;
	u32 nobjs;
	u32 tail;
	u32 div_magic;
	u32 max_waste;
};

static const struct dslab_class_info dslab_classes[] = DSLAB_CLASS_TABLE;
static const u8 dslab_size_to_class8[] = DSLAB_SIZE_TO_CLASS8;
static const u8 dslab_size_to_class128[] = DSLAB_SIZE_TO_CLASS128;

#include "size_class.gen.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PAGE_SZ DSLAB_SIZECLASS_PAGE_SIZE

/* === Checker === */

static int verbose = 1;
static int nfail;

#define FAIL(fmt, ...)							\
	do {								\
		nfail++;						\
		if (verbose)						\
			fprintf(stderr, "FAIL: " fmt "\n", ##__VA_ARGS__); \
	} while (0)

/* Index of the smallest class >= size in @t, or n if none. */
static unsigned int want_class(const struct dslab_class_info *t,
			       unsigned int n, size_t size)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (t[i].size >= size)
			return i;
	return n;
}

static void check_shape(const struct dslab_class_info *t, unsigned int n)
{
	unsigned int i;
	u64 p;

	if (n != DSLAB_NR_CLASSES)
		FAIL("table has %u classes, DSLAB_NR_CLASSES is %d", n,
		     DSLAB_NR_CLASSES);
	if (!n)
		return;
	if (t[n - 1].size != DSLAB_MAX_SMALL_SIZE)
		FAIL("last class is %u, DSLAB_MAX_SMALL_SIZE is %d",
		     t[n - 1].size, DSLAB_MAX_SMALL_SIZE);
	for (i = 0; i < n; i++) {
		if (!t[i].size || t[i].size % 8)
			FAIL("class %u: size %u is not a positive multiple of 8",
			     i, t[i].size);
		if (i && t[i].size <= t[i - 1].size)
			FAIL("class %u: size %u not above class %u's %u",
			     i, t[i].size, i - 1, t[i - 1].size);
	}
	for (p = 8; p <= DSLAB_MAX_SMALL_SIZE; p *= 2) {
		unsigned int c = want_class(t, n, p);

		if (c == n || t[c].size != p)
			FAIL("power of two %llu is not a class",
			     (unsigned long long)p);
	}
}

static void check_spans(const struct dslab_class_info *t, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		u64 span = (u64)t[i].npages * PAGE_SZ;

		if (!t[i].size || !t[i].npages) {
			FAIL("class %u: zero size or pages", i);
			continue;
		}
		if (t[i].nobjs != span / t[i].size || !t[i].nobjs)
			FAIL("class %u (%u): %u objects, a %llu-byte span holds %llu",
			     i, t[i].size, t[i].nobjs, (unsigned long long)span,
			     (unsigned long long)(span / t[i].size));
		if (t[i].tail != span - (u64)t[i].nobjs * t[i].size)
			FAIL("class %u (%u): tail %u, expected %llu", i,
			     t[i].size, t[i].tail,
			     (unsigned long long)(span - (u64)t[i].nobjs * t[i].size));
		if ((u64)t[i].tail * 8 > span)
			FAIL("class %u (%u): tail %u > span %llu / 8", i,
			     t[i].size, t[i].tail, (unsigned long long)span);
	}
}

static void check_rounding(const struct dslab_class_info *t, unsigned int n)
{
	unsigned int i;

	for (i = 1; i < n; i++) {
		u64 size = t[i].size, prev = t[i - 1].size;

		if (size < 128)
			continue;
		/* worst request is prev + 1: waste (size - prev - 1) / size */
		if ((size - prev - 1) * 8 > size)
			FAIL("class %u (%llu): request %llu wastes %llu bytes = %.2f%% > 12.5%%",
			     i, (unsigned long long)size,
			     (unsigned long long)prev + 1,
			     (unsigned long long)(size - prev - 1),
			     100.0 * (size - prev - 1) / size);
	}
}

static void check_div_magic(const struct dslab_class_info *t, unsigned int n)
{
	unsigned int i;
	u64 off;

	for (i = 0; i < n; i++) {
		u64 span = (u64)t[i].npages * PAGE_SZ;
		unsigned int bad = 0;

		if (!t[i].size)
			continue;
		/* every offset, which includes every 8-aligned one */
		for (off = 0; off < span; off++) {
			if (((off * t[i].div_magic) >> 32) != off / t[i].size) {
				if (!bad++)
					FAIL("class %u (%u): div_magic %u wrong at offset %llu%s",
					     i, t[i].size, t[i].div_magic,
					     (unsigned long long)off,
					     off % 8 ? "" : " (8-aligned)");
			}
		}
		/* and the same, computed the way a u32 offset would be */
		for (off = 0; off < span; off += 8) {
			u32 o32 = (u32)off;

			if ((u32)(((u64)o32 * t[i].div_magic) >> 32) !=
			    o32 / t[i].size) {
				FAIL("class %u: 32-bit offset %u wrong", i, o32);
				break;
			}
		}
	}
}

static void check_max_waste(const struct dslab_class_info *t, unsigned int n)
{
	unsigned int i;
	u64 prev = 0;

	for (i = 0; i < n; i++) {
		u64 span = (u64)t[i].npages * PAGE_SZ;
		u64 wasted = (t[i].size - prev - 1) * (u64)t[i].nobjs + t[i].tail;
		/* in 1/100 of a percent, allow for the generator's rounding */
		double want = 10000.0 * wasted / span;

		if (t[i].max_waste + 1 < want || t[i].max_waste > want + 1)
			FAIL("class %u (%u): max waste %u/10000, computed %.2f",
			     i, t[i].size, t[i].max_waste, want);
		prev = t[i].size;
	}
}

/* dslab_size_class() against the smallest class >= size, for @t. */
static void check_lookup(const struct dslab_class_info *t, unsigned int n)
{
	size_t size;
	unsigned int bad = 0, class;
	static const size_t large[] = {
		DSLAB_MAX_SMALL_SIZE + 1, DSLAB_MAX_SMALL_SIZE + 8,
		DSLAB_MAX_SMALL_SIZE * 2, 1 << 20, (size_t)1 << 40, SIZE_MAX,
	};

	for (size = 1; size <= DSLAB_MAX_SMALL_SIZE; size++) {
		unsigned int got = dslab_size_class(size);
		unsigned int want = want_class(t, n, size);

		if (got != want && bad++ < 10)
			FAIL("dslab_size_class(%zu) = %u (%u bytes), want %u (%u bytes)",
			     size, got, got < n ? t[got].size : 0, want,
			     want < n ? t[want].size : 0);
	}
	if (bad > 10)
		FAIL("... and %u more lookup mismatches", bad - 10);
	for (size = 0; size < ARRAY_SIZE(large); size++)
		if (dslab_size_class(large[size]) != DSLAB_CLASS_LARGE)
			FAIL("dslab_size_class(%zu) = %u, want DSLAB_CLASS_LARGE",
			     large[size], dslab_size_class(large[size]));
	/* dslab_alloc(0) counts on this for ZERO_SIZE_PTR. */
	if (dslab_small_class(0, &class))
		FAIL("dslab_small_class(0) says small (class %u)", class);
}

static void check_lookup_arrays(void)
{
	if (ARRAY_SIZE(dslab_size_to_class8) !=
	    DSLAB_SMALL_SIZE_MAX / DSLAB_SMALL_SIZE_DIV + 1)
		FAIL("size_to_class8 has %zu entries, want %d",
		     ARRAY_SIZE(dslab_size_to_class8),
		     DSLAB_SMALL_SIZE_MAX / DSLAB_SMALL_SIZE_DIV + 1);
	if (ARRAY_SIZE(dslab_size_to_class128) !=
	    (DSLAB_MAX_SMALL_SIZE - DSLAB_SMALL_SIZE_MAX) /
	    DSLAB_LARGE_SIZE_DIV + 1)
		FAIL("size_to_class128 has %zu entries, want %d",
		     ARRAY_SIZE(dslab_size_to_class128),
		     (DSLAB_MAX_SMALL_SIZE - DSLAB_SMALL_SIZE_MAX) /
		     DSLAB_LARGE_SIZE_DIV + 1);
	if (DSLAB_SIZECLASS_PAGE_SIZE != 4096)
		FAIL("table generated for %d-byte pages", PAGE_SZ);
}

static int check_table(const struct dslab_class_info *t, unsigned int n,
		       int lookup)
{
	int before = nfail;

	check_shape(t, n);
	check_spans(t, n);
	check_rounding(t, n);
	check_div_magic(t, n);
	check_max_waste(t, n);
	if (lookup)
		check_lookup(t, n);
	return nfail - before;
}

/* === Self-test: every check must be able to fail === */

struct mutation {
	const char *what;
	void (*apply)(struct dslab_class_info *t, unsigned int *n);
};

static unsigned int find(struct dslab_class_info *t, unsigned int n, u32 size)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (t[i].size == size)
			return i;
	return 0;
}

static void drop(struct dslab_class_info *t, unsigned int *n, unsigned int i)
{
	memmove(&t[i], &t[i + 1], (*n - i - 1) * sizeof(*t));
	(*n)--;
}

static void m_drop_pow2(struct dslab_class_info *t, unsigned int *n)
{
	drop(t, n, find(t, *n, 256));
}

static void m_unaligned(struct dslab_class_info *t, unsigned int *n)
{
	t[find(t, *n, 4096) - 1].size += 4;
}

static void m_magic(struct dslab_class_info *t, unsigned int *n)
{
	t[find(t, *n, 24)].div_magic -= 1;
}

static void m_tail(struct dslab_class_info *t, unsigned int *n)
{
	unsigned int i = find(t, *n, 4096);

	t[i].npages = 2;	/* 2 objects would fit, tail wrong too */
}

static void m_gap(struct dslab_class_info *t, unsigned int *n)
{
	unsigned int i = find(t, *n, 160);

	drop(t, n, i);	/* 144 -> 176: 31/176 = 17.6% */
}

static void m_order(struct dslab_class_info *t, unsigned int *n)
{
	struct dslab_class_info tmp = t[3];

	t[3] = t[4];
	t[4] = tmp;
	(void)n;
}

static const struct mutation mutations[] = {
	{ "power of two 256 dropped", m_drop_pow2 },
	{ "size not a multiple of 8", m_unaligned },
	{ "div_magic off by one", m_magic },
	{ "wrong pages per span", m_tail },
	{ "a class dropped (rounding waste)", m_gap },
	{ "classes out of order", m_order },
};

static int self_test(void)
{
	struct dslab_class_info t[DSLAB_NR_CLASSES];
	unsigned int i, n;
	int bad = 0, saved = nfail;

	verbose = 0;
	for (i = 0; i < ARRAY_SIZE(mutations); i++) {
		memcpy(t, dslab_classes, sizeof(t));
		n = DSLAB_NR_CLASSES;
		mutations[i].apply(t, &n);
		/* the lookup check runs the kernel's table, not the copy */
		if (!check_table(t, n, 0)) {
			fprintf(stderr, "FAIL: self-test: '%s' not detected\n",
				mutations[i].what);
			bad++;
		}
	}
	verbose = 1;
	nfail = saved;
	return bad;
}

int main(void)
{
	unsigned int n = ARRAY_SIZE(dslab_classes);
	int bad;

	check_lookup_arrays();
	check_table(dslab_classes, n, 1);
	bad = self_test();
	nfail += bad;

	if (nfail) {
		fprintf(stderr, "sizeclass: %d check(s) FAILED over %u classes\n",
			nfail, n);
		return 1;
	}
	printf("sizeclass: ok: %u classes, sizes 1..%d, %zu self-test mutations detected\n",
	       n, DSLAB_MAX_SMALL_SIZE, ARRAY_SIZE(mutations));
	return 0;
}
