/*
 * src/scenario/print.c - see print.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "scenario/print.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/names.h"

void sc_buf_free(sc_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void sc_buf_reset(sc_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

static bool reserve(sc_buf *b, size_t extra)
{
	size_t nc;
	char *np;

	if (b->oom)
		return false;
	if (b->len + extra + 1 <= b->cap)
		return true;
	nc = b->cap ? b->cap : 128;
	while (nc < b->len + extra + 1) {
		if (nc > SIZE_MAX / 2) {
			b->oom = true;
			return false;
		}
		nc *= 2;
	}
	np = realloc(b->p, nc);
	if (np == NULL) {
		b->oom = true;
		return false;
	}
	b->p = np;
	b->cap = nc;
	return true;
}

void sc_buf_put(sc_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sc_buf_puts(sc_buf *b, const char *s)
{
	sc_buf_put(b, s, strlen(s));
}

void sc_buf_putc(sc_buf *b, char c)
{
	sc_buf_put(b, &c, 1);
}

void sc_buf_printf(sc_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sc_buf_pad(sc_buf *b, size_t col)
{
	while (b->len < col && !b->oom)
		sc_buf_putc(b, ' ');
}

const char *sc_buf_str(const sc_buf *b)
{
	return b->p ? b->p : "";
}

void sc_fmt_data(sc_buf *b, const uint8_t *d, size_t n)
{
	sc_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		uint8_t c = d[i];

		switch (c) {
		case '"': sc_buf_puts(b, "\\\""); break;
		case '\\': sc_buf_puts(b, "\\\\"); break;
		case '\n': sc_buf_puts(b, "\\n"); break;
		case '\t': sc_buf_puts(b, "\\t"); break;
		case '\r': sc_buf_puts(b, "\\r"); break;
		default:
			if (c >= 0x20 && c < 0x7f)
				sc_buf_putc(b, (char)c);
			else
				sc_buf_printf(b, "\\x%02x", c);
		}
	}
	sc_buf_putc(b, '"');
}

static void fmt_addr_port(sc_buf *b, const sc_sockaddr *a, bool any_port)
{
	char ab[ST_ADDR_STRLEN + 1];

	if (a->sa.family != ST_AF_INET && a->sa.family != ST_AF_INET6) {
		sc_buf_putc(b, '*');
		return;
	}
	st_addr_format(&a->sa.addr, a->sa.family, ab, sizeof(ab));
	if (a->sa.family == ST_AF_INET6) {
		sc_buf_printf(b, "[%s", ab);
		if (a->ifname[0] != '\0')
			sc_buf_printf(b, "%%%.*s", (int)strnlen(a->ifname, sizeof(a->ifname)), a->ifname);
		sc_buf_putc(b, ']');
	} else {
		sc_buf_puts(b, ab);
	}
	if (any_port)
		sc_buf_puts(b, ":*");
	else
		sc_buf_printf(b, ":%u", (unsigned)a->sa.port);
}

void sc_fmt_sockaddr(sc_buf *b, const sc_sockaddr *a)
{
	fmt_addr_port(b, a, false);
}

void sc_fmt_addrpat(sc_buf *b, const sc_addrpat *a)
{
	fmt_addr_port(b, &a->sa, a->any_port);
}

void sc_fmt_errno(sc_buf *b, int err)
{
	const char *n = sc_errno_name(err);

	if (n != NULL)
		sc_buf_puts(b, n);
	else
		sc_buf_printf(b, "ERRNO_%d", err);
}

void sc_fmt_result(sc_buf *b, const sc_result *r)
{
	switch (r->kind) {
	case SC_R_OK:
		sc_buf_puts(b, "ok");
		break;
	case SC_R_OK_ADDR:
		sc_buf_puts(b, "ok ");
		sc_fmt_sockaddr(b, &r->addr);
		break;
	case SC_R_ERR:
		sc_fmt_errno(b, r->err);
		break;
	case SC_R_ADDR:
		sc_fmt_sockaddr(b, &r->addr);
		break;
	case SC_R_DATA:
		sc_fmt_data(b, r->data, r->data ? r->len : 0);
		break;
	case SC_R_DATA_FROM:
		sc_fmt_data(b, r->data, r->data ? r->len : 0);
		sc_buf_puts(b, " from ");
		sc_fmt_sockaddr(b, &r->addr);
		break;
	case SC_R_INT:
		sc_buf_printf(b, "%lld", (long long)r->ival);
		break;
	case SC_R_LINGER:
		sc_buf_printf(b, "%lld,%lld", (long long)r->ival, (long long)r->ival2);
		break;
	case SC_R_STR:
		sc_fmt_data(b, (const uint8_t *)r->str, strnlen(r->str, sizeof(r->str)));
		break;
	case SC_R_ERRNAME:
		if (r->err == 0)
			sc_buf_putc(b, '0');
		else
			sc_fmt_errno(b, r->err);
		break;
	default:
		sc_buf_printf(b, "?result-kind-%d", (int)r->kind);
		break;
	}
}

const char *sc_rkind_word(sc_rkind k)
{
	switch (k) {
	case SC_R_OK: return "ok";
	case SC_R_OK_ADDR: return "ok_addr";
	case SC_R_ERR: return "err";
	case SC_R_ADDR: return "addr";
	case SC_R_DATA: return "data";
	case SC_R_DATA_FROM: return "data_from";
	case SC_R_INT: return "int";
	case SC_R_LINGER: return "pair";
	case SC_R_STR: return "str";
	case SC_R_ERRNAME: return "errname";
	}
	return "?";
}

void sc_fmt_lsrow_fields(const sc_lsrow *r, sc_buf f[5])
{
	sc_buf_puts(&f[0], sc_kind_name(r->kind));
	sc_buf_put(&f[1], r->state, strnlen(r->state, sizeof(r->state)));
	sc_fmt_sockaddr(&f[2], &r->local);
	sc_fmt_sockaddr(&f[3], &r->peer);
	sc_buf_puts(&f[4], r->owners && r->owners[0] ? r->owners : "-");
}

void sc_fmt_lspat_fields(const sc_lspat *r, sc_buf f[5])
{
	sc_buf_puts(&f[0], sc_kind_name(r->kind));
	sc_buf_put(&f[1], r->state, strnlen(r->state, sizeof(r->state)));
	sc_fmt_addrpat(&f[2], &r->local);
	if (r->has_peer)
		sc_fmt_addrpat(&f[3], &r->peer);
	else
		sc_buf_putc(&f[3], '*');
	sc_buf_puts(&f[4], r->owners);
}

void sc_fmt_rows(sc_buf *b, const char *prefix, sc_buf *fields, size_t nrows)
{
	size_t w[5] = { 0 };

	for (size_t i = 0; i < nrows; i++)
		for (int k = 0; k < 4; k++)
			if (fields[i * 5 + k].len > w[k])
				w[k] = fields[i * 5 + k].len;
	for (size_t i = 0; i < nrows; i++) {
		sc_buf_puts(b, prefix);
		sc_buf_puts(b, "| ");
		for (int k = 0; k < 5; k++) {
			size_t col = b->len;

			sc_buf_puts(b, sc_buf_str(&fields[i * 5 + k]));
			if (k < 4) {
				sc_buf_pad(b, col + w[k]);
				sc_buf_putc(b, ' ');
			}
		}
		sc_buf_putc(b, '\n');
	}
}

/* Length of a valid UTF-8 sequence at p (n bytes available), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t need;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4, cp = c & 0x07;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

void sc_json_str(sc_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	sc_buf_putc(b, '"');
	while (i < n) {
		unsigned char c = p[i];
		size_t k;

		if (c == '"' || c == '\\') {
			sc_buf_putc(b, '\\');
			sc_buf_putc(b, (char)c);
			i++;
		} else if (c == '\n') {
			sc_buf_puts(b, "\\n");
			i++;
		} else if (c == '\t') {
			sc_buf_puts(b, "\\t");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			sc_buf_printf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			sc_buf_putc(b, (char)c);
			i++;
		} else if ((k = utf8_len(p + i, n - i)) > 0) {
			sc_buf_put(b, s + i, k);
			i += k;
		} else {
			sc_buf_puts(b, "\\ufffd");
			i++;
		}
	}
	sc_buf_putc(b, '"');
}
