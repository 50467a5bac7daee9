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
 * from the published description.
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

#endif
