/*
 * src/scenario/lsrows.c - packing `ls` rows and their owner strings into
 * one block (lsrows.h).
 *
 * Two passes: one to size the block, one to copy.  A string is copied once
 * per run of rows pointing at it, which is how backends produce them (one
 * owner set for many sockets in a row); other duplicates are copied again,
 * which costs a few bytes and no search.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/lsrows.h"

static bool nobody(const char *owners)
{
	return !owners || !owners[0] || (owners[0] == '-' && !owners[1]);
}

int sc_lsrows_pack(const sc_lsrow *rows, size_t n, sc_lsrow **out)
{
	if (n == 0) {
		*out = NULL;
		return 0;
	}
	if (n > SIZE_MAX / 2 / sizeof(*rows))
		return -ENOMEM;
	size_t size = n * sizeof(*rows);
	for (size_t i = 0; i < n; i++) {
		const char *o = rows[i].owners;
		if (nobody(o) || (i && o == rows[i - 1].owners))
			continue;
		size_t l = strlen(o) + 1;
		if (l > SIZE_MAX - size)
			return -ENOMEM;
		size += l;
	}
	sc_lsrow *blk = malloc(size);
	if (!blk)
		return -ENOMEM;
	char *pool = (char *)(blk + n);
	for (size_t i = 0; i < n; i++) {
		const char *o = rows[i].owners;
		blk[i] = rows[i];
		if (nobody(o)) {
			blk[i].owners = "-";
		} else if (i && o == rows[i - 1].owners) {
			blk[i].owners = blk[i - 1].owners;
		} else {
			size_t l = strlen(o) + 1;
			memcpy(pool, o, l);
			blk[i].owners = pool;
			pool += l;
		}
	}
	*out = blk;
	return 0;
}
