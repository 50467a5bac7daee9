/*
 * src/scenario/names.c - see names.h.  Plain tables: each lookup is a scan
 * of at most ~130 short strings, done once per word at parse time.
 */
#include "scenario/names.h"

#include <errno.h>
#include <string.h>

#include "socktab/sock.h"

static bool word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

static int table_lookup(const char *const *tab, int count, const char *s, size_t n)
{
	for (int i = 0; i < count; i++)
		if (tab[i] != NULL && word_is(s, n, tab[i]))
			return i;
	return -1;
}

static const char *const verb_names[SC_V_COUNT_] = {
	[SC_V_SOCKET] = "socket",
	[SC_V_SETSOCKOPT] = "setsockopt",
	[SC_V_GETSOCKOPT] = "getsockopt",
	[SC_V_BIND] = "bind",
	[SC_V_LISTEN] = "listen",
	[SC_V_CONNECT] = "connect",
	[SC_V_ACCEPT] = "accept",
	[SC_V_SEND] = "send",
	[SC_V_SENDTO] = "sendto",
	[SC_V_RECV] = "recv",
	[SC_V_RECVFROM] = "recvfrom",
	[SC_V_GETSOCKNAME] = "getsockname",
	[SC_V_GETPEERNAME] = "getpeername",
	[SC_V_SHUTDOWN] = "shutdown",
	[SC_V_CLOSE] = "close",
	[SC_V_FORK] = "fork",
	[SC_V_SENDFD] = "sendfd",
	[SC_V_EXIT] = "exit",
};

static const char *const kind_names[] = {
	[SC_TCP4] = "tcp4", [SC_TCP6] = "tcp6", [SC_UDP4] = "udp4", [SC_UDP6] = "udp6",
};

static const char *const opt_names[SC_OPT_COUNT_] = {
	[SC_SO_REUSEADDR] = "SO_REUSEADDR",
	[SC_SO_REUSEPORT] = "SO_REUSEPORT",
	[SC_IPV6_V6ONLY] = "IPV6_V6ONLY",
	[SC_SO_BROADCAST] = "SO_BROADCAST",
	[SC_SO_BINDTODEVICE] = "SO_BINDTODEVICE",
	[SC_IP_FREEBIND] = "IP_FREEBIND",
	[SC_IP_TRANSPARENT] = "IP_TRANSPARENT",
	[SC_IP_BIND_ADDRESS_NO_PORT] = "IP_BIND_ADDRESS_NO_PORT",
	[SC_SO_LINGER] = "SO_LINGER",
	[SC_SO_ERROR] = "SO_ERROR",
	[SC_IP_LOCAL_PORT_RANGE] = "IP_LOCAL_PORT_RANGE",
};

static const char *const shut_names[] = {
	[SC_SHUT_RD] = "rd", [SC_SHUT_WR] = "wr", [SC_SHUT_RDWR] = "rdwr",
};

const char *sc_verb_name(sc_verb v)
{
	return (unsigned)v < SC_V_COUNT_ ? verb_names[v] : "?";
}

const char *sc_kind_name(sc_kind k)
{
	return (unsigned)k < 4 ? kind_names[k] : "?";
}

const char *sc_opt_name(sc_opt o)
{
	return (unsigned)o < SC_OPT_COUNT_ ? opt_names[o] : "?";
}

const char *sc_shut_name(sc_shut h)
{
	return (unsigned)h < 3 ? shut_names[h] : "?";
}

int sc_verb_lookup(const char *s, size_t n)
{
	return table_lookup(verb_names, SC_V_COUNT_, s, n);
}

int sc_kind_lookup(const char *s, size_t n)
{
	return table_lookup(kind_names, 4, s, n);
}

int sc_opt_lookup(const char *s, size_t n)
{
	return table_lookup(opt_names, SC_OPT_COUNT_, s, n);
}

int sc_shut_lookup(const char *s, size_t n)
{
	return table_lookup(shut_names, 3, s, n);
}

bool sc_opt_is_int(sc_opt o)
{
	switch (o) {
	case SC_SO_BINDTODEVICE:
	case SC_SO_LINGER:
	case SC_SO_ERROR:
	case SC_IP_LOCAL_PORT_RANGE:
		return false;
	default:
		return true;
	}
}

/* ---- errno ------------------------------------------------------------- */

struct errname {
	int value;
	const char *name;
};

#define E(x) { x, #x },
static const struct errname errnames[] = {
	E(EPERM)
	E(ENOENT)
	E(ESRCH)
	E(EINTR)
	E(EIO)
	E(ENXIO)
	E(E2BIG)
	E(ENOEXEC)
	E(EBADF)
	E(ECHILD)
	E(EAGAIN)
	E(ENOMEM)
	E(EACCES)
	E(EFAULT)
	E(ENOTBLK)
	E(EBUSY)
	E(EEXIST)
	E(EXDEV)
	E(ENODEV)
	E(ENOTDIR)
	E(EISDIR)
	E(EINVAL)
	E(ENFILE)
	E(EMFILE)
	E(ENOTTY)
	E(ETXTBSY)
	E(EFBIG)
	E(ENOSPC)
	E(ESPIPE)
	E(EROFS)
	E(EMLINK)
	E(EPIPE)
	E(EDOM)
	E(ERANGE)
	E(EDEADLK)
	E(ENAMETOOLONG)
	E(ENOLCK)
	E(ENOSYS)
	E(ENOTEMPTY)
	E(ELOOP)
	E(ENOMSG)
	E(EIDRM)
	E(ECHRNG)
	E(EL2NSYNC)
	E(EL3HLT)
	E(EL3RST)
	E(ELNRNG)
	E(EUNATCH)
	E(ENOCSI)
	E(EL2HLT)
	E(EBADE)
	E(EBADR)
	E(EXFULL)
	E(ENOANO)
	E(EBADRQC)
	E(EBADSLT)
	E(EBFONT)
	E(ENOSTR)
	E(ENODATA)
	E(ETIME)
	E(ENOSR)
	E(ENONET)
	E(ENOPKG)
	E(EREMOTE)
	E(ENOLINK)
	E(EADV)
	E(ESRMNT)
	E(ECOMM)
	E(EPROTO)
	E(EMULTIHOP)
	E(EDOTDOT)
	E(EBADMSG)
	E(EOVERFLOW)
	E(ENOTUNIQ)
	E(EBADFD)
	E(EREMCHG)
	E(ELIBACC)
	E(ELIBBAD)
	E(ELIBSCN)
	E(ELIBMAX)
	E(ELIBEXEC)
	E(EILSEQ)
	E(ERESTART)
	E(ESTRPIPE)
	E(EUSERS)
	E(ENOTSOCK)
	E(EDESTADDRREQ)
	E(EMSGSIZE)
	E(EPROTOTYPE)
	E(ENOPROTOOPT)
	E(EPROTONOSUPPORT)
	E(ESOCKTNOSUPPORT)
	E(EOPNOTSUPP)
	E(EPFNOSUPPORT)
	E(EAFNOSUPPORT)
	E(EADDRINUSE)
	E(EADDRNOTAVAIL)
	E(ENETDOWN)
	E(ENETUNREACH)
	E(ENETRESET)
	E(ECONNABORTED)
	E(ECONNRESET)
	E(ENOBUFS)
	E(EISCONN)
	E(ENOTCONN)
	E(ESHUTDOWN)
	E(ETOOMANYREFS)
	E(ETIMEDOUT)
	E(ECONNREFUSED)
	E(EHOSTDOWN)
	E(EHOSTUNREACH)
	E(EALREADY)
	E(EINPROGRESS)
	E(ESTALE)
	E(EUCLEAN)
	E(ENOTNAM)
	E(ENAVAIL)
	E(EISNAM)
	E(EREMOTEIO)
	E(EDQUOT)
	E(ENOMEDIUM)
	E(EMEDIUMTYPE)
	E(ECANCELED)
	E(ENOKEY)
	E(EKEYEXPIRED)
	E(EKEYREVOKED)
	E(EKEYREJECTED)
	E(EOWNERDEAD)
	E(ENOTRECOVERABLE)
	E(ERFKILL)
	E(EHWPOISON)
};
#undef E

static const struct errname aliases[] = {
	{ EAGAIN, "EWOULDBLOCK" },
	{ EDEADLK, "EDEADLOCK" },
	{ EOPNOTSUPP, "ENOTSUP" },
};

const char *sc_errno_name(int err)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].value == err)
			return errnames[i].name;
	return NULL;
}

int sc_errno_lookup(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (word_is(s, n, errnames[i].name))
			return errnames[i].value;
	return 0;
}

const char *sc_errno_alias(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (word_is(s, n, aliases[i].name))
			return sc_errno_name(aliases[i].value);
	return NULL;
}

/* ---- ls states, capabilities --------------------------------------------- */

static const char *const states[] = {
	"LISTEN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
	"TIME-WAIT", "CLOSE-WAIT", "LAST-ACK", "CLOSING", "BOUND", "UNCONN",
};

bool sc_state_valid(const char *s, size_t n)
{
	return table_lookup(states, (int)(sizeof(states) / sizeof(states[0])), s, n) >= 0;
}

unsigned sc_cap_lookup(const char *s, size_t n)
{
	if (word_is(s, n, "net_bind_service"))
		return ST_CAP_NET_BIND_SERVICE;
	if (word_is(s, n, "net_admin"))
		return ST_CAP_NET_ADMIN;
	if (word_is(s, n, "net_raw"))
		return ST_CAP_NET_RAW;
	return 0;
}
