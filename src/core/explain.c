/*
 * explain.c - words for the rules: rule references, errno names, and the
 * one-line descriptions of sockets that explanations are made of.
 *
 * Every refusal carries a rule (st_rule) so that a caller can print the
 * section of docs/architecture.md and ../shared/linux-semantics.md that
 * decided it; the text is for people and says the same in plain words.
 */
#include "net_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

static const char *const rule_names[ST_RULE_COUNT_] = {
	[ST_RULE_NONE] = "-",
	[ST_RULE_ARG_LEN] = "B1/B10",
	[ST_RULE_ARG_FAMILY] = "B2/B11",
	[ST_RULE_ADDR_NOT_LOCAL] = "B3/B17/B20",
	[ST_RULE_PRIVILEGED_PORT] = "B4/B13",
	[ST_RULE_ALREADY_BOUND] = "B5/B14",
	[ST_RULE_MULTICAST_STREAM] = "B12",
	[ST_RULE_V4MAPPED_V6ONLY] = "B15",
	[ST_RULE_SCOPE_REQUIRED] = "B16",
	[ST_RULE_NO_DEVICE] = "B15/B16",
	[ST_RULE_TCP_CONFLICT] = "B-T1/B-T2",
	[ST_RULE_TCP_LISTENER_BLOCKS_RA] = "B-T3",
	[ST_RULE_TCP_REUSEPORT_UID] = "B-T4",
	[ST_RULE_TCP_TIMEWAIT] = "B-T7",
	[ST_RULE_FAST_REUSE] = "B-T9",
	[ST_RULE_FAST_REUSEPORT] = "B-T9",
	[ST_RULE_UDP_CONFLICT] = "B-U1",
	[ST_RULE_UDP_SCAN_ORDER] = "B-U4",
	[ST_RULE_PORT_EXHAUSTED] = "P-T6/P-U3/P-T13",
	[ST_RULE_NOT_STREAM] = "L1",
	[ST_RULE_BAD_STATE] = "L1/C-T2/L6",
	[ST_RULE_TUPLE_IN_USE] = "C-T7",
	[ST_RULE_TIMEWAIT_NOT_REUSABLE] = "T-4",
	[ST_RULE_UNREACHABLE] = "C-T4/C-T5",
	[ST_RULE_BROADCAST_DENIED] = "C-U4",
	[ST_RULE_V6ONLY_OPT_FROZEN] = "1.4",
	[ST_RULE_NO_PERMISSION] = "IP_TRANSPARENT",
	[ST_RULE_NOMEM] = "ENOMEM",
};

const char *st_rule_name(st_rule r)
{
	if ((int)r < 0 || r >= ST_RULE_COUNT_ || !rule_names[r])
		return "?";
	return rule_names[r];
}

const char *st_strerror_name(int err)
{
	/* -INT_MIN does not exist; no errno is that large anyway. */
	if (err == INT_MIN)
		return "E?";
	if (err < 0)
		err = -err;
	switch (err) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ERANGE: return "ERANGE";
	case EPIPE: return "EPIPE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNRESET: return "ECONNRESET";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EMFILE: return "EMFILE";
	case ENOBUFS: return "ENOBUFS";
	case ESRCH: return "ESRCH";
	case EUCLEAN: return "EUCLEAN";
	default: return "E?";
	}
}

void explain_set(st_explain *ex, int err, st_rule rule, const st_sock *conflict, const char *fmt, ...)
{
	if (!ex)
		return;
	ex->err = err;
	ex->rule = rule;
	ex->conflict = conflict;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ex->text, sizeof(ex->text), fmt, ap);
	va_end(ap);
}

static const char *state_word(int s)
{
	static const char *const w[ST_STATE_COUNT_] = {
		"bound", "listening", "connecting", "half-open", "connected", "closing (FIN-WAIT-1)",
		"closing (FIN-WAIT-2)", "closing (CLOSE-WAIT)", "closing", "closing (LAST-ACK)",
		"in TIME_WAIT"};
	return s >= 0 && s < ST_STATE_COUNT_ ? w[s] : "?";
}

void sock_describe(const st_sock *sk, char *buf, size_t len)
{
	char a[ST_SOCKADDR_STRLEN];
	st_sockaddr sa;
	st_getsockname(sk, &sa);
	st_sockaddr_format(&sa, a, sizeof(a));
	snprintf(buf, len, "the %s %s socket on %s (uid %u%s%s%s)",
		 sk->proto == ST_TCP ? "TCP" : "UDP", state_word(sk->state), a, sk->uid,
		 sk_has(sk, ST_F_REUSEADDR) ? ", SO_REUSEADDR" : "",
		 sk_has(sk, ST_F_REUSEPORT) ? ", SO_REUSEPORT" : "",
		 sk_has(sk, ST_F_V6ONLY) && sk->family == ST_AF_INET6 ? ", IPV6_V6ONLY" : "");
}
