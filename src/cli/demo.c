/*
 * src/cli/demo.c - what `socktab` with no arguments runs.
 *
 * The first experiment of "what does it mean to listen on a port", from
 * the language's specification: a listening TCP socket and a UDP socket
 * share 127.0.0.1:8080, a client connects, and once the owner exits the
 * port refuses connections.  It runs with --explain so that a first-time
 * user sees not only what Linux answers but why.
 */
#include "cli/cli.h"

const char cli_demo_name[] = "demo.scn";

const char cli_demo_text[] =
	"# What does it mean to listen on a port?  (socktab's built-in demo;\n"
	"# run `socktab --help` to see what else it can do.)\n"
	"proc liz\n"
	"proc tim\n"
	"liz: s1 = socket tcp4\n"
	"liz: bind s1 127.0.0.1:8080             => ok\n"
	"liz: listen s1                          => ok\n"
	"liz: s2 = socket udp4\n"
	"liz: bind s2 127.0.0.1:8080             => ok\n"
	"tim: c = socket tcp4\n"
	"tim: connect c 127.0.0.1:8080           => ok\n"
	"liz: a = accept s1                      => ok 127.0.0.1:*\n"
	"ls\n"
	"liz: exit\n"
	"tim: c2 = socket tcp4\n"
	"tim: connect c2 127.0.0.1:8080          => ECONNREFUSED\n";
