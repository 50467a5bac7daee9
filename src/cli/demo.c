/*
 * src/cli/demo.c - what `socktab` with no arguments runs.
 *
 * The first seed article, "what does it mean to listen on a port", as
 * examples/000-listen-on-a-port.scn tells it: TCP and UDP sharing a port,
 * refusal once the owner exits, the SO_REUSEPORT pair, 127.0.0.2 and
 * 127.0.0.3, 0.0.0.0 against a specific address, [::] taking IPv4 and
 * IPV6_V6ONLY.  It runs with --explain so that a first-time user sees not
 * only what Linux answers but why.  The text itself is the example file,
 * compiled in at build time (CMake writes demo_text.c from it), so the demo
 * and the example can never drift apart.
 */
#include "cli/cli.h"

const char cli_demo_name[] = "examples/000-listen-on-a-port.scn";
