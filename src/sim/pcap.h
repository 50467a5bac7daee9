/*
 * src/sim/pcap.h - writing a capture of the simulated network.
 *
 * `socktab run --pcap FILE` records every packet the simulated links carry,
 * so that a scenario can be inspected with tcpdump or Wireshark like a real
 * one.  The file is the classic libpcap format (not pcapng: every tool
 * reads it and it needs no blocks or interface descriptions), with the
 * nanosecond magic 0xa1b23c4d because simulated time is in nanoseconds, and
 * LINKTYPE_RAW (101): packets start at the IP header, so IPv4 and IPv6
 * packets go in one file without inventing Ethernet headers.  Snaplen is
 * 65535; a longer packet is stored truncated with its original length.
 *
 * The file is written in little-endian byte order whatever the host, so the
 * same simulation always produces the same bytes.
 */
#ifndef SOCKTAB_SIM_PCAP_H
#define SOCKTAB_SIM_PCAP_H

#include <stddef.h>
#include <stdint.h>

enum {
	SIM_PCAP_SNAPLEN = 65535,
	SIM_PCAP_LINKTYPE_RAW = 101,
};

typedef struct sim_pcap sim_pcap;

/* Creates (or truncates) path and writes the file header.  0 or -errno
 * (-EINVAL for NULL arguments); *out is written only on success. */
int sim_pcap_open(const char *path, sim_pcap **out);

/* Appends one packet seen at time_ns (simulated time, nanoseconds since the
 * start).  0 or -errno: -EINVAL (NULL pc, or NULL pkt with len > 0),
 * -ERANGE (time beyond the 32-bit seconds field, year 2106), -EMSGSIZE (len
 * beyond 32 bits), an I/O error.
 * After an I/O error the file is damaged; every later call returns the
 * same error. */
int sim_pcap_write(sim_pcap *pc, uint64_t time_ns, const uint8_t *pkt, size_t len);

/* Flushes, closes and frees (always, even on error).  0 or -errno: the
 * first error of any write or of the close itself.  NULL is a no-op. */
int sim_pcap_close(sim_pcap *pc);

#endif
