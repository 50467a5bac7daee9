/*
 * src/cli/steer.h - port steering for `socktab diff` (steer.c): the model
 * is handed the ephemeral port Linux chose for the same call and takes it
 * if Linux's algorithm could have chosen it.
 */
#ifndef SOCKTAB_CLI_STEER_H
#define SOCKTAB_CLI_STEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario/backend.h"

/* Shared by the two wrappers of one diff, reset before each statement. */
typedef struct sc_steer {
	uint16_t port;          /* the port the kernel's socket has after the call */
	bool refused;           /* the model refused that port...             */
	uint16_t refused_port;
	const char *why;        /* ... for this reason (static text)          */
	size_t taken;           /* ports the model took from the kernel, all statements */
} sc_steer;

/* A backend that forwards everything to `in` and, on the kernel side,
 * learns the port of each connect/listen/bind/send/sendto's socket, on the
 * model side hands it to the model first.  The kernel's statement must
 * run before the model's.  Destroying the wrapper leaves `in` alone.
 * NULL on allocation failure. */
sc_backend *sc_steer_wrap(sc_backend *in, bool kernel, sc_steer *ctx);
/* Before each statement. */
void sc_steer_begin(sc_steer *ctx);

#endif
