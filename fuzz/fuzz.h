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

/* Reading a target's input as a stream of little-endian numbers: past the
 * end every read is 0, so that any input, however short, is a complete
 * program of operations. */
typedef struct fuzz_rd {
	const uint8_t *p;
	size_t n;
} fuzz_rd;

static inline uint8_t fuzz_u8(fuzz_rd *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

/* Two statements, not `a() | b() << 8`: the order in which the operands
 * of | are evaluated is unspecified, and a corpus must read the same
 * under gcc (ctest replays) and clang (libFuzzer). */
static inline uint16_t fuzz_u16(fuzz_rd *r)
{
	uint16_t lo = fuzz_u8(r);
	return (uint16_t)(lo | (uint16_t)fuzz_u8(r) << 8);
}

static inline uint32_t fuzz_u32(fuzz_rd *r)
{
	uint32_t lo = fuzz_u16(r);
	return lo | (uint32_t)fuzz_u16(r) << 16;
}

#endif
