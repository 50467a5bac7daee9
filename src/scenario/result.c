/*
 * src/scenario/result.c - releasing what a backend put in an sc_result.
 *
 * The contract (backend.h) says a result owns exactly two heap blocks,
 * `data` and `explain`; everything else is by value.  Clearing resets the
 * whole record so a result can be reused for the next call.
 */
#include <stdlib.h>
#include <string.h>

#include "scenario/backend.h"

void sc_result_clear(sc_result *r)
{
	if (r == NULL)
		return;
	free(r->data);
	free(r->explain);
	memset(r, 0, sizeof(*r));
}
