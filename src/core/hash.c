/*
 * hash.c - SipHash-2-4 and key derivation.
 *
 * SipHash is used because it is what Linux uses for the same jobs (port
 * offsets, and since 6.15 part of the ehash), because it is a good keyed
 * PRF on short inputs (a 4-tuple is 36 bytes), and because it is short
 * enough to write from the paper (Aumasson and Bernstein, 2012).
 *
 * st_mixhash is the index hash (hash.h says why it is not SipHash): pairs
 * of words, each xored with its own key word, multiplied and folded; the
 * pairs are independent, so a superscalar core computes them side by
 * side, and one last fold with the word count mixes the sum.
 */
#include "hash.h"

#include <string.h>

static inline uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

#define SIPROUND                                                       \
	do {                                                           \
		v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32); \
		v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;               \
		v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;               \
		v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32); \
	} while (0)

uint64_t st_siphash(const st_sipkey *key, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ key->k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ key->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ key->k0;
	uint64_t v3 = 0x7465646279746573ULL ^ key->k1;
	uint64_t b = ((uint64_t)len) << 56;
	size_t whole = len & ~(size_t)7;

	for (size_t i = 0; i < whole; i += 8) {
		uint64_t m = load_le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < (len & 7); i++)
		b |= ((uint64_t)p[whole + i]) << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t st_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

st_sipkey st_sipkey_derive(uint64_t seed, uint64_t purpose)
{
	uint64_t s = seed ^ (purpose * 0xd6e8feb86659fd93ULL);
	st_sipkey k;
	k.k0 = st_splitmix64(&s);
	k.k1 = st_splitmix64(&s);
	return k;
}

uint64_t st_mixhash(const st_sipkey *key, const uint64_t *w, unsigned n)
{
	uint64_t acc = 0;
	unsigned i = 0;
	for (; i + 1 < n; i += 2)
		acc ^= st_mum(w[i] ^ st_mixkey(key, i), w[i + 1] ^ st_mixkey(key, i + 1));
	if (i < n)
		acc ^= st_mum(w[i] ^ st_mixkey(key, i), st_mixkey(key, i + 1));
	return st_mum(acc ^ st_mixkey(key, 10), (uint64_t)n ^ st_mixkey(key, 11));
}
