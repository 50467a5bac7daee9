/*
 * src/sim/pcap.c - the classic libpcap file writer (see pcap.h).
 *
 * A stdio stream buffers the records; a simulation writes many small
 * packets and nothing reads the file before close.  The first I/O error is
 * kept ("sticky") so that a caller who checks only the result of
 * sim_pcap_close() still learns that the capture is incomplete.
 */
#include "sim/pcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

enum {
	PCAP_MAGIC_NS = 0xa1b23c4d,  /* nanosecond-resolution timestamps */
	PCAP_VERSION_MAJOR = 2,
	PCAP_VERSION_MINOR = 4,
	FILE_HDR_LEN = 24,
	REC_HDR_LEN = 16,
};

struct sim_pcap {
	FILE *f;       /* open until sim_pcap_close */
	int err;       /* first error (negative errno), 0 while all is well */
};

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* fwrite that turns a short write into a negative errno. */
static int put(sim_pcap *pc, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (fwrite(p, 1, n, pc->f) != n)
		return errno ? -errno : -EIO;
	return 0;
}

int sim_pcap_open(const char *path, sim_pcap **out)
{
	uint8_t h[FILE_HDR_LEN];
	sim_pcap *pc;
	int rc;

	if (!path || !out)
		return -EINVAL;
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	errno = 0;
	pc->f = fopen(path, "wb");
	if (!pc->f) {
		rc = errno ? -errno : -EIO;
		free(pc);
		return rc;
	}
	le32(h, PCAP_MAGIC_NS);
	le16(h + 4, PCAP_VERSION_MAJOR);
	le16(h + 6, PCAP_VERSION_MINOR);
	le32(h + 8, 0);                      /* thiszone: timestamps are UTC */
	le32(h + 12, 0);                     /* sigfigs */
	le32(h + 16, SIM_PCAP_SNAPLEN);
	le32(h + 20, SIM_PCAP_LINKTYPE_RAW);
	errno = 0;
	rc = put(pc, h, sizeof(h));
	if (rc) {
		fclose(pc->f);
		free(pc);
		return rc;
	}
	*out = pc;
	return 0;
}

int sim_pcap_write(sim_pcap *pc, uint64_t time_ns, const uint8_t *pkt, size_t len)
{
	uint8_t h[REC_HDR_LEN];
	uint64_t sec = time_ns / 1000000000u;
	size_t incl = len > SIM_PCAP_SNAPLEN ? SIM_PCAP_SNAPLEN : len;
	int rc;

	if (!pc || (!pkt && len > 0))
		return -EINVAL;
	if (pc->err)
		return pc->err;
	if (sec > UINT32_MAX)
		return -ERANGE;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	le32(h, (uint32_t)sec);
	le32(h + 4, (uint32_t)(time_ns % 1000000000u));
	le32(h + 8, (uint32_t)incl);
	le32(h + 12, (uint32_t)len);
	errno = 0;
	rc = put(pc, h, sizeof(h));
	if (!rc)
		rc = put(pc, pkt, incl);
	if (rc)
		pc->err = rc;
	return rc;
}

int sim_pcap_close(sim_pcap *pc)
{
	int rc;

	if (!pc)
		return 0;
	rc = pc->err;
	errno = 0;
	if (fclose(pc->f) != 0 && !rc)
		rc = errno ? -errno : -EIO;
	free(pc);
	return rc;
}
