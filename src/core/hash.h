/*
 * hash.h - the keyed hashes behind every choice Linux hides behind a
 * per-boot secret: the 4-tuple hash (established table, reuseport member
 * selection) and the connect() port offset (RFC 6056 algorithm 4).
 *
 * Linux keys these with random secrets, so exact values cannot match the
 * kernel; what must match is their structure: deterministic for a given
 * key and seed, uniform, and independent between uses (different keys for
 * different purposes, as the kernel has inet_ehash_secret,
 * udp_ehash_secret and net_secret).  We use SipHash-2-4, implemented here
 * from the published description, where the value is visible (port
 * offsets, reuseport member choice, the stack's sequence numbers).
 *
 * Table *indexes* (the 4-tuple table, the table of port buckets and
 * aggregates) need speed more than a PRF: their hash is never visible,
 * only the time a lookup takes is.  SipHash costs ~25 ns on a 4-tuple,
 * which alone would cap lookups at 40 M/s, so indexes use st_mixhash: a
 * keyed multiply-fold (each pair of input words, xored with per-position
 * key words, is multiplied 64x64->128 and the halves folded).  It is the
 * same trade Linux makes with jhash and a boot-time secret for its
 * ehash and bhash: keyed so that an outsider cannot aim collisions at a
 * chain without the key, cheap enough for every packet.  Per-position key
 * words keep swapped fields (local/remote) from colliding.
 */
#ifndef SOCKTAB_HASH_H
#define SOCKTAB_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_sipkey {
	uint64_t k0, k1;
} st_sipkey;

uint64_t st_siphash(const st_sipkey *key, const void *data, size_t len);

/* Derive independent keys from one seed (splitmix64). */
st_sipkey st_sipkey_derive(uint64_t seed, uint64_t purpose);
uint64_t st_splitmix64(uint64_t *state);

/* 64x64->128 multiply, halves folded: the step of st_mixhash. */
static inline uint64_t st_mum(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Key word i of the index hash (i < 12): the key xored with a fixed odd
 * constant per position, so that equal words at different positions do
 * not cancel. */
static inline uint64_t st_mixkey(const st_sipkey *key, unsigned i)
{
	static const uint64_t c[12] = {
		0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL, 0x8ebc6af09c88c6e3ULL,
		0x589965cc75374cc3ULL, 0x1d8e4e27c47d124fULL, 0x9e3779b97f4a7c15ULL,
		0xbf58476d1ce4e5b9ULL, 0x94d049bb133111ebULL, 0xd6e8feb86659fd93ULL,
		0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL, 0x27d4eb2f165667c5ULL,
	};
	return ((i & 1) ? key->k1 : key->k0) ^ c[i];
}

/* Keyed index hash of `n` 64-bit words (n <= 10).  Not a PRF. */
uint64_t st_mixhash(const st_sipkey *key, const uint64_t *w, unsigned n);

#endif
