/*
 * socktab/socktab.h - the whole public API of libsocktab in one include.
 *
 *   socktab/addr.h    addresses and socket addresses (v4 kept v4-mapped)
 *   socktab/net.h     a network namespace: devices, routes, sysctls, clock
 *   socktab/sock.h    socket records; bind, listen, connect, close, TIME_WAIT
 *   socktab/lookup.h  demultiplexing: which socket receives a packet
 *
 * Build against an installed copy with
 *   cc prog.c $(pkg-config --cflags --libs socktab)
 */
#ifndef SOCKTAB_SOCKTAB_H
#define SOCKTAB_SOCKTAB_H

#include "socktab/addr.h"
#include "socktab/net.h"
#include "socktab/sock.h"
#include "socktab/lookup.h"

/*
 * Version of these headers.  CMake refuses to configure when these numbers
 * differ from project(VERSION) in CMakeLists.txt; st_version() reports the
 * version of the library actually linked, which may differ from these when
 * a program built against one release runs with another's shared library.
 */
#define SOCKTAB_VERSION_MAJOR 0
#define SOCKTAB_VERSION_MINOR 1
#define SOCKTAB_VERSION_PATCH 0

#define SOCKTAB_VERSION_STR_I_(x) #x
#define SOCKTAB_VERSION_STR_(x) SOCKTAB_VERSION_STR_I_(x)
/* "0.1.0" */
#define SOCKTAB_VERSION_STRING                        \
	SOCKTAB_VERSION_STR_(SOCKTAB_VERSION_MAJOR) "." \
	SOCKTAB_VERSION_STR_(SOCKTAB_VERSION_MINOR) "." \
	SOCKTAB_VERSION_STR_(SOCKTAB_VERSION_PATCH)
/* One comparable number: 0.1.0 -> 100, 1.2.3 -> 10203. */
#define SOCKTAB_VERSION_NUMBER \
	(SOCKTAB_VERSION_MAJOR * 10000 + SOCKTAB_VERSION_MINOR * 100 + SOCKTAB_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* The linked library's version, "MAJOR.MINOR.PATCH"; a static string. */
const char *st_version(void);

#ifdef __cplusplus
}
#endif
#endif
