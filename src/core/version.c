/*
 * version.c - which socktab is this?
 *
 * There are two answers to that question, and they are not always the
 * same.  The header answers at compile time: SOCKTAB_VERSION_MAJOR/MINOR/
 * PATCH in socktab/socktab.h are the version of the declarations a program
 * was compiled against.  The library answers at run time: st_version() is
 * compiled into libsocktab itself, so it names the version of the code that
 * is actually executing.  With the static library the two can only differ
 * through a broken build; with the shared library they differ whenever a
 * program built against one release is run with another's libsocktab.so.0
 * (the SONAME promises only that the ABI is compatible, not that the
 * behaviour is the same), and a program that cares - a test harness that
 * records which rules it checked, a bug report - can compare
 * SOCKTAB_VERSION_STRING with st_version() and say so.
 *
 * The string is built from the very macros the header exports, by
 * stringification, rather than passed in by the build system: there is one
 * place that says the version (the header), and CMake checks at configure
 * time that it agrees with project(VERSION) so the .pc file, the SOVERSION
 * and the library's own answer cannot drift apart.  The function returns a
 * pointer to a string literal: static storage, no allocation, safe from any
 * thread, never to be freed.
 */
#include "socktab/socktab.h"

const char *st_version(void)
{
	return SOCKTAB_VERSION_STRING;
}
