/*
 * fuzz/fuzz.h - the one entry point every fuzz target defines.
 *
 * With clang the targets link libFuzzer (-fsanitize=fuzzer), which calls
 * LLVMFuzzerTestOneInput with generated inputs.  With any other compiler
 * they link replay_main.c instead, which calls it once per file named on the
 * command line, so that the corpus stays a regression test everywhere.
 * A target returns 0 and reports a broken property by aborting.
 */
#ifndef SOCKTAB_FUZZ_H
#define SOCKTAB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
