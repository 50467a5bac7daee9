/*
 * tests/unit/helpers.h - small helpers shared by the socktab unit tests.
 *
 * Everything here is static inline and written against the public headers
 * only.  A test works on an h_env: one st_net (seed 1, default sysctls)
 * plus a fixed array of st_sock records that never moves while hashed.
 * Every wrapper around a library call
 *   - records the call as text in e->last (printed with any failure),
 *   - keeps the st_explain of bind/listen/connect in e->ex,
 *   - asserts st_net_check() == 0 afterwards (table invariants),
 * and returns the library's return code so that the test decides what is
 * expected.  Failures are reported with the caller's file and line, the
 * test context string (e->ctx) and the last library call.
 *
 * Sockets are closed with st_close() by h_close() or, for the ones still
 * open, by h_env_done(), which then checks that no socket is left hashed
 * and frees the net.
 */
#ifndef SOCKTAB_TESTS_UNIT_HELPERS_H
#define SOCKTAB_TESTS_UNIT_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "socktab/addr.h"
#include "socktab/net.h"
#include "socktab/sock.h"
#include "socktab/lookup.h"

/* Default owner of test sockets and default caller of every call. */
enum { H_UID = 1000 };

/* Flag sets for h_flags(). */
enum {
	H_NONE = 0,
	H_RA = 1u << 0,
	H_RP = 1u << 1,
	H_V6ONLY = 1u << 2,
};

/* ------------------------------------------------------------------ */
/* Text helpers (independent of the library, so that messages stay     */
/* readable even when the library's own formatting is wrong).           */
/* ------------------------------------------------------------------ */

static inline const char *h_errno_name(int err)
{
	switch (err < 0 ? -err : err) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETUNREACH: return "ENETUNREACH";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	case EUCLEAN: return "EUCLEAN";
	default: return "E?";
	}
}

/* "0", "-EADDRINUSE", ...: rotating static buffers, so that up to eight
 * results can appear in one printf. */
static inline const char *h_rc(int rc)
{
	static char bufs[8][32];
	static unsigned next;
	char *b = bufs[next++ % 8];
	if (rc == 0)
		snprintf(b, 32, "0");
	else if (strcmp(h_errno_name(rc), "E?") == 0)
		snprintf(b, 32, "%d", rc);
	else
		snprintf(b, 32, "%s%s", rc < 0 ? "-" : "", h_errno_name(rc));
	return b;
}

static inline const char *h_proto_name(int proto)
{
	return proto == ST_TCP ? "TCP" : proto == ST_UDP ? "UDP" : "proto?";
}

static inline const char *h_family_name(int family)
{
	return family == ST_AF_INET ? "INET" : family == ST_AF_INET6 ? "INET6" :
	       family == ST_AF_UNSPEC ? "UNSPEC" : "family?";
}

static inline const char *h_opt_name(st_opt opt)
{
	switch (opt) {
	case ST_SO_REUSEADDR: return "SO_REUSEADDR";
	case ST_SO_REUSEPORT: return "SO_REUSEPORT";
	case ST_IPV6_V6ONLY: return "IPV6_V6ONLY";
	case ST_SO_BROADCAST: return "SO_BROADCAST";
	case ST_SO_BINDTODEVICE: return "SO_BINDTODEVICE";
	case ST_IP_FREEBIND: return "IP_FREEBIND";
	case ST_IP_TRANSPARENT: return "IP_TRANSPARENT";
	case ST_IP_BIND_ADDRESS_NO_PORT: return "IP_BIND_ADDRESS_NO_PORT";
	case ST_IP_LOCAL_PORT_RANGE: return "IP_LOCAL_PORT_RANGE";
	default: return "opt?";
	}
}

static inline const char *h_flags_name(unsigned f)
{
	static char bufs[8][32];
	static unsigned next;
	char *b = bufs[next++ % 8];
	if ((f & (H_RA | H_RP | H_V6ONLY)) == 0) {
		snprintf(b, 32, "none");
		return b;
	}
	snprintf(b, 32, "%s%s%s%s%s",
		 (f & H_RA) ? "RA" : "",
		 ((f & H_RA) && (f & (H_RP | H_V6ONLY))) ? "+" : "",
		 (f & H_RP) ? "RP" : "",
		 ((f & H_RP) && (f & H_V6ONLY)) ? "+" : "",
		 (f & H_V6ONLY) ? "V6ONLY" : "");
	return b;
}

/* Formats an st_sockaddr as "a.b.c.d:port", "[v6]:port" or "[v6%scope]:port"
 * from its raw fields (no library call). */
static inline const char *h_fmt_sa(const st_sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	if (sa->family == ST_AF_INET6) {
		if (!inet_ntop(AF_INET6, sa->addr.b, a, sizeof a))
			snprintf(a, sizeof a, "?");
		if (sa->scope_id)
			snprintf(buf, len, "[%s%%%u]:%u", a, (unsigned)sa->scope_id, (unsigned)sa->port);
		else
			snprintf(buf, len, "[%s]:%u", a, (unsigned)sa->port);
	} else {
		if (!inet_ntop(AF_INET, sa->addr.b + 12, a, sizeof a))
			snprintf(a, sizeof a, "?");
		if (sa->family == ST_AF_INET)
			snprintf(buf, len, "%s:%u", a, (unsigned)sa->port);
		else
			snprintf(buf, len, "(family %u) %s:%u", (unsigned)sa->family, a,
				 (unsigned)sa->port);
	}
	return buf;
}

/* getsockname() of a record, formatted as above. */
static inline const char *h_sockname(const st_sock *sk, char *buf, size_t len)
{
	st_sockaddr sa;
	memset(&sa, 0, sizeof sa);
	st_getsockname(sk, &sa);
	return h_fmt_sa(&sa, buf, len);
}

/* getsockname() port. */
static inline uint16_t h_port(const st_sock *sk)
{
	st_sockaddr sa;
	memset(&sa, 0, sizeof sa);
	st_getsockname(sk, &sa);
	return sa.port;
}

/* "127.0.0.1" + 80 -> "127.0.0.1:80"; "::1" + 80 -> "[::1]:80". */
static inline const char *h_ep(char *buf, size_t len, const char *addr, unsigned port)
{
	if (strchr(addr, ':'))
		snprintf(buf, len, "[%s]:%u", addr, port);
	else
		snprintf(buf, len, "%s:%u", addr, port);
	return buf;
}

/* The socket family that goes with an address text. */
static inline int h_addr_family(const char *addr)
{
	return strchr(addr, ':') ? ST_AF_INET6 : ST_AF_INET;
}

/* addrlen that goes with a sockaddr family: 16 for INET, 28 for INET6. */
static inline int h_salen(const st_sockaddr *sa)
{
	return sa->family == ST_AF_INET6 ? ST_SOCKADDR_IN6_LEN : ST_SOCKADDR_IN_LEN;
}

static inline st_cred h_cred(uint32_t uid, uint32_t caps)
{
	st_cred c;
	c.uid = uid;
	c.caps = caps;
	return c;
}

/* ------------------------------------------------------------------ */
/* The environment                                                      */
/* ------------------------------------------------------------------ */

enum { H_CTX_LEN = 256, H_LAST_LEN = 512 };

typedef struct h_env {
	st_net *net;
	st_sock *sk;           /* calloc'ed, never reallocated */
	unsigned char *live;   /* initialised and not yet closed */
	int n, cap;
	char ctx[H_CTX_LEN];   /* which test / case: printed on failure */
	char last[H_LAST_LEN]; /* the last library call, as text */
	st_explain ex;         /* explain of the last bind/listen/connect */
	bool ex_valid;         /* ex belongs to the last call */
} h_env;

static inline void h_fail_at(const h_env *e, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline void h_fail_at(const h_env *e, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_error("%s:%d: [%s] %s\n", file, line, e ? e->ctx : "-", msg);
	if (e && e->last[0])
		print_error("    last library call: %s\n", e->last);
	if (e && e->ex_valid && (e->ex.rule != ST_RULE_NONE || e->ex.text[0])) {
		char t[sizeof e->ex.text + 1];
		memcpy(t, e->ex.text, sizeof e->ex.text);
		t[sizeof e->ex.text] = '\0';
		print_error("    its explain: err %s, rule %d, \"%s\"\n", h_rc(e->ex.err),
			    (int)e->ex.rule, t);
	}
	_fail(file, line);
}

#define H_FAIL(e, ...) h_fail_at((e), __FILE__, __LINE__, __VA_ARGS__)

/* Condition with a printf-style message: H_ASSERT(e, x == 1, "x is %d", x). */
#define H_ASSERT(e, cond, ...)                                           \
	do {                                                             \
		if (!(cond))                                             \
			h_fail_at((e), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

static inline void h_ctx(h_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void h_ctx(h_env *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->ctx, sizeof e->ctx, fmt, ap);
	va_end(ap);
}

/* Table invariants, after every call. */
static inline void h_check_at(h_env *e, const char *file, int line)
{
	char buf[1024];
	int rc;
	buf[0] = '\0';
	rc = st_net_check(e->net, buf, sizeof buf);
	buf[sizeof buf - 1] = '\0';
	if (rc != 0)
		h_fail_at(e, file, line, "table invariants broken: st_net_check() = %s: %s", h_rc(rc),
			  buf);
}
#define h_check(e) h_check_at((e), __FILE__, __LINE__)

/* A fresh net (seed 1, no ops, default sysctls) with room for `cap`
 * sockets.  `ctx` names the test in every failure message. */
static inline void h_env_init_at(h_env *e, int cap, const char *ctx, const char *file, int line)
{
	int rc;
	memset(e, 0, sizeof *e);
	snprintf(e->ctx, sizeof e->ctx, "%s", ctx ? ctx : "");
	e->cap = cap;
	e->sk = calloc((size_t)(cap > 0 ? cap : 1), sizeof *e->sk);
	e->live = calloc((size_t)(cap > 0 ? cap : 1), 1);
	if (!e->sk || !e->live)
		h_fail_at(e, file, line, "out of memory for %d test sockets", cap);
	rc = st_net_new(&e->net, 1, NULL);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_net_new(&net, 1, NULL) = %s", h_rc(rc));
	if (rc != 0 || !e->net)
		h_fail_at(e, file, line, "st_net_new failed: %s", h_rc(rc));
	h_check_at(e, file, line);
}
#define h_env_init(e, cap, ctx) h_env_init_at((e), (cap), (ctx), __FILE__, __LINE__)

static inline int h_idx(const h_env *e, const st_sock *sk)
{
	return (int)(sk - e->sk);
}

/* "#3 TCP/INET6 uid 1000" */
static inline const char *h_skdesc(const h_env *e, const st_sock *sk)
{
	static char bufs[4][64];
	static unsigned next;
	char *b = bufs[next++ % 4];
	snprintf(b, 64, "sk#%d %s/%s uid %u", h_idx(e, sk), h_proto_name(sk->proto),
		 h_family_name(sk->family), (unsigned)sk->uid);
	return b;
}

/* st_sock_init on the next free record; must succeed. */
static inline st_sock *h_sock_at(h_env *e, int proto, int family, uint32_t uid, const char *file,
				 int line)
{
	st_sock *sk;
	int rc;
	if (e->n >= e->cap) {
		h_fail_at(e, file, line, "test bug: more than %d sockets", e->cap);
		return NULL;
	}
	sk = &e->sk[e->n];
	memset(sk, 0, sizeof *sk);
	rc = st_sock_init(e->net, sk, proto, family, uid);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_sock_init(sk#%d, %s, %s, uid %u) = %s", e->n,
		 h_proto_name(proto), h_family_name(family), (unsigned)uid, h_rc(rc));
	if (rc != 0)
		h_fail_at(e, file, line, "st_sock_init failed: %s", h_rc(rc));
	e->live[e->n] = 1;
	e->n++;
	h_check_at(e, file, line);
	return sk;
}
#define h_sock(e, proto, family, uid) h_sock_at((e), (proto), (family), (uid), __FILE__, __LINE__)
#define h_tcp4(e) h_sock((e), ST_TCP, ST_AF_INET, H_UID)
#define h_tcp6(e) h_sock((e), ST_TCP, ST_AF_INET6, H_UID)
#define h_udp4(e) h_sock((e), ST_UDP, ST_AF_INET, H_UID)
#define h_udp6(e) h_sock((e), ST_UDP, ST_AF_INET6, H_UID)

/* st_close; the record may be reused by nobody afterwards. */
static inline void h_close_at(h_env *e, st_sock *sk, const char *file, int line)
{
	int i = h_idx(e, sk);
	if (i < 0 || i >= e->n || !e->live[i]) {
		h_fail_at(e, file, line, "test bug: closing sk#%d which is not open", i);
		return;
	}
	st_close(e->net, sk);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_close(%s)", h_skdesc(e, sk));
	e->live[i] = 0;
	h_check_at(e, file, line);
}
#define h_close(e, sk) h_close_at((e), (sk), __FILE__, __LINE__)

/* Close every open socket (newest first), check that the tables are then
 * empty, free the net. */
static inline void h_env_done_at(h_env *e, const char *file, int line)
{
	size_t left;
	for (int i = e->n - 1; i >= 0; i--)
		if (e->live[i])
			h_close_at(e, &e->sk[i], file, line);
	left = st_net_count(e->net);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_net_count(net) = %zu", left);
	if (left != 0)
		h_fail_at(e, file, line, "%zu socket(s) still hashed after closing every socket", left);
	st_net_free(e->net);
	e->net = NULL;
	free(e->sk);
	free(e->live);
	e->sk = NULL;
	e->live = NULL;
}
#define h_env_done(e) h_env_done_at((e), __FILE__, __LINE__)

/* Parse "127.0.0.1:80" / "[::1]:80" / "[fe80::1%2]:80"; must succeed. */
static inline st_sockaddr h_parse_at(h_env *e, const char *text, const char *file, int line)
{
	st_sockaddr sa;
	int rc;
	memset(&sa, 0, sizeof sa);
	rc = st_sockaddr_parse(text, &sa);
	if (rc != 0)
		h_fail_at(e, file, line, "st_sockaddr_parse(\"%s\") = %s", text, h_rc(rc));
	return sa;
}
#define h_parse(e, text) h_parse_at((e), (text), __FILE__, __LINE__)

/* ------------------------------------------------------------------ */
/* Wrapped calls: they return the library's result.                    */
/* ------------------------------------------------------------------ */

static inline int h_bind_sa_at(h_env *e, st_sock *sk, const st_sockaddr *sa, int addrlen,
			       uint32_t uid, uint32_t caps, const char *file, int line)
{
	st_cred c = h_cred(uid, caps);
	char ep[96];
	int rc;
	memset(&e->ex, 0, sizeof e->ex);
	rc = st_bind(e->net, sk, sa, addrlen, &c, &e->ex);
	e->ex_valid = true;
	snprintf(e->last, sizeof e->last, "st_bind(%s, %s, addrlen %d, cred{uid %u, caps %#x}) = %s",
		 h_skdesc(e, sk), h_fmt_sa(sa, ep, sizeof ep), addrlen, (unsigned)uid,
		 (unsigned)caps, h_rc(rc));
	h_check_at(e, file, line);
	return rc;
}
#define h_bind_sa(e, sk, sa, len, uid, caps) \
	h_bind_sa_at((e), (sk), (sa), (len), (uid), (caps), __FILE__, __LINE__)

/* bind to an endpoint text with the natural addrlen; caller = owner uid,
 * no capabilities. */
static inline int h_bind_at(h_env *e, st_sock *sk, const char *text, const char *file, int line)
{
	st_sockaddr sa = h_parse_at(e, text, file, line);
	return h_bind_sa_at(e, sk, &sa, h_salen(&sa), sk->uid, 0, file, line);
}
#define h_bind(e, sk, text) h_bind_at((e), (sk), (text), __FILE__, __LINE__)

static inline int h_bind_cred_at(h_env *e, st_sock *sk, const char *text, uint32_t uid,
				 uint32_t caps, const char *file, int line)
{
	st_sockaddr sa = h_parse_at(e, text, file, line);
	return h_bind_sa_at(e, sk, &sa, h_salen(&sa), uid, caps, file, line);
}
#define h_bind_cred(e, sk, text, uid, caps) \
	h_bind_cred_at((e), (sk), (text), (uid), (caps), __FILE__, __LINE__)

static inline int h_listen_at(h_env *e, st_sock *sk, const char *file, int line)
{
	st_cred c = h_cred(sk->uid, 0);
	char nm[96];
	int rc;
	memset(&e->ex, 0, sizeof e->ex);
	rc = st_listen(e->net, sk, &c, &e->ex);
	e->ex_valid = true;
	snprintf(e->last, sizeof e->last, "st_listen(%s bound to %s) = %s", h_skdesc(e, sk),
		 h_sockname(sk, nm, sizeof nm), h_rc(rc));
	h_check_at(e, file, line);
	return rc;
}
#define h_listen(e, sk) h_listen_at((e), (sk), __FILE__, __LINE__)

static inline int h_connect_at(h_env *e, st_sock *sk, const char *text, const char *file, int line)
{
	st_sockaddr sa = h_parse_at(e, text, file, line);
	st_cred c = h_cred(sk->uid, 0);
	char nm[96];
	int rc;
	memset(&e->ex, 0, sizeof e->ex);
	rc = st_connect(e->net, sk, &sa, h_salen(&sa), &c, &e->ex);
	e->ex_valid = true;
	snprintf(e->last, sizeof e->last, "st_connect(%s, %s) = %s; sockname now %s",
		 h_skdesc(e, sk), text, h_rc(rc), h_sockname(sk, nm, sizeof nm));
	h_check_at(e, file, line);
	return rc;
}
#define h_connect(e, sk, text) h_connect_at((e), (sk), (text), __FILE__, __LINE__)

static inline int h_disconnect_at(h_env *e, st_sock *sk, const char *file, int line)
{
	int rc = st_disconnect(e->net, sk);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_disconnect(%s) = %s", h_skdesc(e, sk), h_rc(rc));
	h_check_at(e, file, line);
	return rc;
}
#define h_disconnect(e, sk) h_disconnect_at((e), (sk), __FILE__, __LINE__)

static inline int h_set_state_at(h_env *e, st_sock *sk, st_state st, const char *file, int line)
{
	int rc = st_set_state(e->net, sk, st);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_set_state(%s, %d) = %s", h_skdesc(e, sk), (int)st,
		 h_rc(rc));
	h_check_at(e, file, line);
	return rc;
}
#define h_set_state(e, sk, st) h_set_state_at((e), (sk), (st), __FILE__, __LINE__)

static inline int h_timewait_at(h_env *e, st_sock *sk, bool peer_ts, const char *file, int line)
{
	int rc = st_timewait(e->net, sk, peer_ts);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_timewait(%s, %s) = %s", h_skdesc(e, sk),
		 peer_ts ? "true" : "false", h_rc(rc));
	h_check_at(e, file, line);
	return rc;
}
#define h_timewait(e, sk, ts) h_timewait_at((e), (sk), (ts), __FILE__, __LINE__)

static inline int h_setopt_cred_at(h_env *e, st_sock *sk, st_opt opt, uint32_t val, uint32_t caps,
				   const char *file, int line)
{
	st_cred c = h_cred(sk->uid, caps);
	int rc = st_setsockopt(e->net, sk, opt, val, &c);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_setsockopt(%s, %s, %u, caps %#x) = %s",
		 h_skdesc(e, sk), h_opt_name(opt), (unsigned)val, (unsigned)caps, h_rc(rc));
	h_check_at(e, file, line);
	return rc;
}
#define h_setopt_cred(e, sk, opt, val, caps) \
	h_setopt_cred_at((e), (sk), (opt), (val), (caps), __FILE__, __LINE__)
#define h_setopt(e, sk, opt, val) h_setopt_cred_at((e), (sk), (opt), (val), 0, __FILE__, __LINE__)

/* getsockopt that must succeed. */
static inline uint32_t h_getopt_at(h_env *e, const st_sock *sk, st_opt opt, const char *file,
				   int line)
{
	uint32_t v = 0xdeadbeefu;
	int rc = st_getsockopt(e->net, sk, opt, &v);
	if (rc != 0)
		h_fail_at(e, file, line, "st_getsockopt(%s, %s) = %s", h_skdesc(e, sk),
			  h_opt_name(opt), h_rc(rc));
	return v;
}
#define h_getopt(e, sk, opt) h_getopt_at((e), (sk), (opt), __FILE__, __LINE__)

/* Set RA / RP / V6ONLY as the bits say; every setsockopt must succeed. */
static inline void h_flags_at(h_env *e, st_sock *sk, unsigned f, const char *file, int line)
{
	int rc;
	if (f & H_V6ONLY) {
		rc = h_setopt_cred_at(e, sk, ST_IPV6_V6ONLY, 1, 0, file, line);
		if (rc != 0)
			h_fail_at(e, file, line, "setting IPV6_V6ONLY failed: %s", h_rc(rc));
	}
	if (f & H_RA) {
		rc = h_setopt_cred_at(e, sk, ST_SO_REUSEADDR, 1, 0, file, line);
		if (rc != 0)
			h_fail_at(e, file, line, "setting SO_REUSEADDR failed: %s", h_rc(rc));
	}
	if (f & H_RP) {
		rc = h_setopt_cred_at(e, sk, ST_SO_REUSEPORT, 1, 0, file, line);
		if (rc != 0)
			h_fail_at(e, file, line, "setting SO_REUSEPORT failed: %s", h_rc(rc));
	}
}
#define h_flags(e, sk, f) h_flags_at((e), (sk), (f), __FILE__, __LINE__)

/* Sysctl by Linux name; must succeed. */
static inline void h_sysctl_at(h_env *e, const char *key, const char *val, const char *file,
			       int line)
{
	int rc = st_net_sysctl_set_text(e->net, key, val);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_net_sysctl_set_text(%s, \"%s\") = %s", key, val,
		 h_rc(rc));
	if (rc != 0)
		h_fail_at(e, file, line, "sysctl %s = \"%s\" refused: %s", key, val, h_rc(rc));
	h_check_at(e, file, line);
}
#define h_sysctl(e, key, val) h_sysctl_at((e), (key), (val), __FILE__, __LINE__)

/* ------------------------------------------------------------------ */
/* Expectations                                                          */
/* ------------------------------------------------------------------ */

static inline void h_expect_rc_at(h_env *e, int got, int want, const char *what, const char *file,
				  int line)
{
	if (got != want)
		h_fail_at(e, file, line, "%s returned %s, expected %s", what, h_rc(got), h_rc(want));
}
/* H_RC(e, h_bind(e, s, "127.0.0.1:80"), -EADDRINUSE) */
#define H_RC(e, call, want) h_expect_rc_at((e), (call), (want), #call, __FILE__, __LINE__)

static inline void h_expect_name_at(h_env *e, const st_sock *sk, const char *want,
				    const char *file, int line)
{
	char got[96];
	h_sockname(sk, got, sizeof got);
	if (strcmp(got, want) != 0)
		h_fail_at(e, file, line, "getsockname(%s) is %s, expected %s", h_skdesc(e, sk), got,
			  want);
}
/* H_NAME(e, sk, "127.0.0.1:80") or "[::1]:80" */
#define H_NAME(e, sk, want) h_expect_name_at((e), (sk), (want), __FILE__, __LINE__)

static inline void h_expect_port_at(h_env *e, const st_sock *sk, unsigned want, const char *file,
				    int line)
{
	unsigned got = h_port(sk);
	if (got != want) {
		char nm[96];
		h_fail_at(e, file, line, "getsockname(%s) port is %u (%s), expected %u",
			  h_skdesc(e, sk), got, h_sockname(sk, nm, sizeof nm), want);
	}
}
#define H_PORT(e, sk, want) h_expect_port_at((e), (sk), (want), __FILE__, __LINE__)

static inline void h_expect_opt_at(h_env *e, const st_sock *sk, st_opt opt, uint32_t want,
				   const char *file, int line)
{
	uint32_t got = h_getopt_at(e, sk, opt, file, line);
	if (got != want)
		h_fail_at(e, file, line, "getsockopt(%s, %s) reads %u, expected %u", h_skdesc(e, sk),
			  h_opt_name(opt), (unsigned)got, (unsigned)want);
}
#define H_OPT(e, sk, opt, want) h_expect_opt_at((e), (sk), (opt), (want), __FILE__, __LINE__)

/* ------------------------------------------------------------------ */
/* Data-driven cmocka groups                                             */
/* ------------------------------------------------------------------ */

typedef struct h_tests {
	struct CMUnitTest *v;
	size_t n, cap;
} h_tests;

/* Append a test; `name` is copied, `state` is handed to the test as *state
 * (it must not be NULL for data-driven tests). */
static inline void h_tests_add(h_tests *t, const char *name, CMUnitTestFunction fn, void *state)
{
	size_t len = strlen(name) + 1;
	char *copy;
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		struct CMUnitTest *nv = realloc(t->v, ncap * sizeof *nv);
		if (!nv) {
			fprintf(stderr, "out of memory registering tests\n");
			exit(2);
		}
		t->v = nv;
		t->cap = ncap;
	}
	copy = malloc(len);
	if (!copy) {
		fprintf(stderr, "out of memory registering tests\n");
		exit(2);
	}
	memcpy(copy, name, len);
	memset(&t->v[t->n], 0, sizeof t->v[t->n]);
	t->v[t->n].name = copy;
	t->v[t->n].test_func = fn;
	t->v[t->n].initial_state = state;
	t->n++;
}

/* Run the group; returns the number of failed tests. */
static inline int h_tests_run(h_tests *t, const char *group)
{
	int failed = _cmocka_run_group_tests(group, t->v, t->n, NULL, NULL);
	for (size_t i = 0; i < t->n; i++)
		free((void *)(uintptr_t)t->v[i].name);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
	return failed;
}

/* ------------------------------------------------------------------ */
/* Packets and lookups (demux tests)                                     */
/* ------------------------------------------------------------------ */

/* A packet as the receiver sees it: from "127.0.0.2:40000" to
 * "127.0.0.1:80" (or "[::2]:40000" -> "[::1]:80"), arriving on ifindex.
 * The packet's IP version is the text's; both ends must agree. */
static inline st_pkt h_pkt_at(h_env *e, int proto, const char *from, const char *to, int ifindex,
			      const char *file, int line)
{
	st_sockaddr s = h_parse_at(e, from, file, line);
	st_sockaddr d = h_parse_at(e, to, file, line);
	st_pkt p;
	memset(&p, 0, sizeof p);
	if (s.family != d.family)
		h_fail_at(e, file, line, "test bug: packet %s -> %s mixes IP versions", from, to);
	p.family = (uint8_t)d.family;
	p.proto = (uint8_t)proto;
	p.sport = s.port;
	p.dport = d.port;
	p.ifindex = ifindex;
	p.saddr = s.addr;
	p.daddr = d.addr;
	return p;
}
#define h_pkt(e, proto, from, to) h_pkt_at((e), (proto), (from), (to), ST_IFINDEX_LO, __FILE__, __LINE__)
#define h_pkt_dev(e, proto, from, to, ifx) h_pkt_at((e), (proto), (from), (to), (ifx), __FILE__, __LINE__)

/* "sk#3" for a test socket, "NULL", or "foreign" for a record that is not
 * one of the env's. */
static inline const char *h_who(const h_env *e, const st_sock *sk)
{
	static char bufs[8][32];
	static unsigned next;
	char *b = bufs[next++ % 8];
	if (!sk)
		snprintf(b, 32, "NULL");
	else if (sk >= e->sk && sk < e->sk + e->n)
		snprintf(b, 32, "sk#%d", h_idx(e, sk));
	else
		snprintf(b, 32, "foreign %p", (const void *)sk);
	return b;
}

/* st_lookup_tcp / st_lookup_udp with the explain kept in *lex (may be
 * NULL), the call recorded, and the tables checked. */
static inline st_sock *h_lookup_at(h_env *e, const st_pkt *p, st_lookup_explain *lex,
				   const char *file, int line)
{
	char a[ST_SOCKADDR_STRLEN], b[ST_SOCKADDR_STRLEN];
	st_sockaddr s, d;
	st_sock *r;
	memset(&s, 0, sizeof s);
	memset(&d, 0, sizeof d);
	s.family = d.family = p->family;
	s.addr = p->saddr;
	s.port = p->sport;
	d.addr = p->daddr;
	d.port = p->dport;
	r = p->proto == ST_TCP ? st_lookup_tcp(e->net, p, lex) : st_lookup_udp(e->net, p, lex);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_lookup_%s(%s -> %s, ifindex %d) = %s",
		 p->proto == ST_TCP ? "tcp" : "udp", h_fmt_sa(&s, a, sizeof a),
		 h_fmt_sa(&d, b, sizeof b), (int)p->ifindex, h_who(e, r));
	h_check_at(e, file, line);
	return r;
}
#define h_lookup(e, p, lex) h_lookup_at((e), (p), (lex), __FILE__, __LINE__)

/* The packet (proto, from -> to, arriving on lo) reaches `want` (NULL:
 * nothing). */
static inline void h_expect_lookup_at(h_env *e, int proto, const char *from, const char *to,
				      int ifindex, const st_sock *want, const char *file, int line)
{
	st_pkt p = h_pkt_at(e, proto, from, to, ifindex, file, line);
	st_lookup_explain lex;
	st_sock *got = h_lookup_at(e, &p, &lex, file, line);
	if (got != want)
		h_fail_at(e, file, line, "%s packet %s -> %s (ifindex %d) reached %s, expected %s; "
			  "lookup said: %s", h_proto_name(proto), from, to, ifindex, h_who(e, got),
			  h_who(e, want), lex.text);
}
#define H_LOOKUP(e, proto, from, to, want) \
	h_expect_lookup_at((e), (proto), (from), (to), ST_IFINDEX_LO, (want), __FILE__, __LINE__)
#define H_LOOKUP_DEV(e, proto, from, to, ifx, want) \
	h_expect_lookup_at((e), (proto), (from), (to), (ifx), (want), __FILE__, __LINE__)

/* Flow i of a family: source 127.1.x.y / 2001:db8::x:y (never a bound
 * address), source port 10000 + i % 50000; destination as given. */
static inline st_pkt h_flow(int proto, int family, const st_addr *daddr, uint16_t dport, unsigned i)
{
	st_pkt p;
	memset(&p, 0, sizeof p);
	p.family = (uint8_t)family;
	p.proto = (uint8_t)proto;
	p.ifindex = ST_IFINDEX_LO;
	p.daddr = *daddr;
	p.dport = dport;
	p.sport = (uint16_t)(10000 + i % 50000);
	if (family == ST_AF_INET) {
		p.saddr = st_addr_v4(0x7f010000u | ((i / 50000) & 0xffff));
	} else {
		memset(&p.saddr, 0, sizeof p.saddr);
		p.saddr.b[0] = 0x20;
		p.saddr.b[1] = 0x01;
		p.saddr.b[2] = 0x0d;
		p.saddr.b[3] = 0xb8;
		p.saddr.b[14] = (uint8_t)((i / 50000) >> 8);
		p.saddr.b[15] = (uint8_t)(i / 50000);
	}
	return p;
}

/* Index of sk among socks[0..n), or -1. */
static inline int h_which(st_sock *const *socks, int n, const st_sock *sk)
{
	for (int i = 0; i < n; i++)
		if (socks[i] == sk)
			return i;
	return -1;
}

/* How many of `nflows` flows to daddr:dport reach each of socks[0..n);
 * counts[n] collects the flows that reached none of them. */
static inline void h_spread_at(h_env *e, int proto, const char *to, st_sock *const *socks, int n,
			       unsigned nflows, unsigned *counts, const char *file, int line)
{
	st_sockaddr d = h_parse_at(e, to, file, line);
	for (int i = 0; i <= n; i++)
		counts[i] = 0;
	for (unsigned f = 0; f < nflows; f++) {
		st_pkt p = h_flow(proto, d.family, &d.addr, d.port, f);
		st_sock *got = proto == ST_TCP ? st_lookup_tcp(e->net, &p, NULL)
					       : st_lookup_udp(e->net, &p, NULL);
		int w = h_which(socks, n, got);
		counts[w < 0 ? n : w]++;
	}
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "%u %s flows to %s", nflows, h_proto_name(proto), to);
	h_check_at(e, file, line);
}
#define h_spread(e, proto, to, socks, n, nflows, counts) \
	h_spread_at((e), (proto), (to), (socks), (n), (nflows), (counts), __FILE__, __LINE__)

/* "12/0/88 (none 0)" */
static inline const char *h_counts_str(const unsigned *counts, int n)
{
	static char bufs[4][256];
	static unsigned next;
	char *b = bufs[next++ % 4];
	size_t used = 0;
	for (int i = 0; i < n && used < 200; i++)
		used += (size_t)snprintf(b + used, 256 - used, "%s%u", i ? "/" : "", counts[i]);
	snprintf(b + used, 256 - used, " (none %u)", counts[n]);
	return b;
}

/* st_accept_child on listener `l` for local -> remote texts, in `state`;
 * returns the library's result, the child is the next socket record. */
static inline int h_accept_at(h_env *e, st_sock *l, const char *local, const char *remote,
			      st_state state, st_sock **child_out, const char *file, int line)
{
	st_sock *c = h_sock_at(e, ST_TCP, l->family, l->uid, file, line);
	st_sockaddr la = h_parse_at(e, local, file, line);
	st_sockaddr ra = h_parse_at(e, remote, file, line);
	int rc;
	if (l->family == ST_AF_INET6 && la.family == ST_AF_INET) {
		/* an IPv4 connection to a dual-stack listener: v4-mapped */
		la.family = ra.family = ST_AF_INET6;
	}
	rc = st_accept_child(e->net, l, c, &la, &ra, state);
	e->ex_valid = false;
	snprintf(e->last, sizeof e->last, "st_accept_child(%s, %s <- %s, state %d) = %s",
		 h_skdesc(e, l), local, remote, (int)state, h_rc(rc));
	if (rc != 0)
		e->live[h_idx(e, c)] = 0;
	h_check_at(e, file, line);
	if (child_out)
		*child_out = rc == 0 ? c : NULL;
	return rc;
}
#define h_accept(e, l, local, remote, state, out) \
	h_accept_at((e), (l), (local), (remote), (state), (out), __FILE__, __LINE__)

/* Add a device with an IPv4 address (prefix) and optionally an IPv6
 * address; returns its ifindex. */
static inline int h_device_at(h_env *e, const char *name, const char *v4, int v4len,
			      const char *v6, int v6len, const char *file, int line)
{
	int ifx = 0, rc, fam;
	st_addr a;
	rc = st_net_add_device(e->net, name, &ifx);
	if (rc != 0)
		h_fail_at(e, file, line, "st_net_add_device(%s) = %s", name, h_rc(rc));
	if (v4) {
		if (st_addr_parse(v4, &a, &fam) != 0 ||
		    (rc = st_net_add_addr(e->net, ifx, &a, ST_AF_INET, v4len)) != 0)
			h_fail_at(e, file, line, "adding %s/%d to %s failed", v4, v4len, name);
	}
	if (v6) {
		if (st_addr_parse(v6, &a, &fam) != 0 ||
		    (rc = st_net_add_addr(e->net, ifx, &a, ST_AF_INET6, v6len)) != 0)
			h_fail_at(e, file, line, "adding %s/%d to %s failed", v6, v6len, name);
	}
	h_check_at(e, file, line);
	return ifx;
}
#define h_device(e, name, v4, v4len, v6, v6len) \
	h_device_at((e), (name), (v4), (v4len), (v6), (v6len), __FILE__, __LINE__)

/* Set the clock to `ms` milliseconds. */
static inline void h_time_ms(h_env *e, uint64_t ms)
{
	st_net_set_time(e->net, ms * 1000000ull);
}

#endif
