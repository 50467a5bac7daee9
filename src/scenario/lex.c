/*
 * src/scenario/lex.c - see lex.h.
 *
 * Two passes over the line: check_bytes() validates every byte (so a NUL or
 * an invalid UTF-8 sequence inside a comment is still an error: a scenario
 * file is text), then the tokenizer.  Both are linear in the line.
 */
#include "scenario/lex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int lex_error(sc_line *l, size_t col, const char *fmt, ...)
{
	va_list ap;

	l->err_col = (uint32_t)col;
	va_start(ap, fmt);
	vsnprintf(l->err, sizeof(l->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t need;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0; /* continuation byte, overlong lead (c0, c1) or > f4 */
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, or a UTF-16 surrogate */
	return need;
}

static int check_bytes(sc_line *l)
{
	const unsigned char *p = (const unsigned char *)l->text;
	size_t i = 0;

	if (l->len > SC_MAX_LINE)
		return lex_error(l, SC_MAX_LINE, "line is longer than %d bytes", SC_MAX_LINE);
	while (i < l->len) {
		size_t k;

		if (p[i] == 0)
			return lex_error(l, i, "NUL byte in the file");
		k = utf8_seq(p + i, l->len - i);
		if (k == 0)
			return lex_error(l, i, "invalid UTF-8 (byte 0x%02x)", p[i]);
		i += k;
	}
	return 0;
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string starting at the quote at `start`; on success *end is past the
 * closing quote and the decoded bytes are appended to l->sbuf. */
static int lex_string(sc_line *l, size_t start, size_t *end, uint32_t *sused, sc_tok *t)
{
	const unsigned char *p = (const unsigned char *)l->text;
	size_t i = start + 1;
	uint32_t o = *sused;

	t->soff = o;
	for (;;) {
		unsigned char c;

		if (i >= l->len)
			return lex_error(l, start, "unterminated string");
		c = p[i];
		if (c == '"')
			break;
		if (is_control(c))
			return lex_error(l, i, "control character 0x%02x in a string (write \\x%02x)", c, c);
		if (c != '\\') {
			l->sbuf[o++] = c;
			i++;
			continue;
		}
		if (i + 1 >= l->len)
			return lex_error(l, start, "unterminated string");
		c = p[i + 1];
		switch (c) {
		case 'n': l->sbuf[o++] = '\n'; i += 2; continue;
		case 't': l->sbuf[o++] = '\t'; i += 2; continue;
		case 'r': l->sbuf[o++] = '\r'; i += 2; continue;
		case 'a': l->sbuf[o++] = '\a'; i += 2; continue;
		case 'b': l->sbuf[o++] = '\b'; i += 2; continue;
		case 'f': l->sbuf[o++] = '\f'; i += 2; continue;
		case 'v': l->sbuf[o++] = '\v'; i += 2; continue;
		case '\\': case '"': case '\'': case '?':
			l->sbuf[o++] = c;
			i += 2;
			continue;
		case 'x': {
			int h1 = i + 2 < l->len ? hexval(p[i + 2]) : -1;
			int h2 = i + 3 < l->len ? hexval(p[i + 3]) : -1;

			if (h1 < 0 || h2 < 0)
				return lex_error(l, i, "\\x needs exactly two hex digits (\\x00 .. \\xff)");
			l->sbuf[o++] = (uint8_t)(h1 * 16 + h2);
			i += 4;
			continue;
		}
		default:
			break;
		}
		if (c >= '0' && c <= '7') {
			unsigned v = 0;
			size_t k = i + 1;

			while (k < l->len && k < i + 4 && p[k] >= '0' && p[k] <= '7')
				v = v * 8 + (unsigned)(p[k++] - '0');
			if (v > 0xff)
				return lex_error(l, i, "octal escape \\%.*s is larger than \\377",
						 (int)(k - i - 1), (const char *)p + i + 1);
			l->sbuf[o++] = (uint8_t)v;
			i = k;
			continue;
		}
		if (c < 0x80 && !is_control(c))
			return lex_error(l, i, "unknown escape \\%c in a string", c);
		return lex_error(l, i, "unknown escape in a string (a backslash before a non-ASCII character)");
	}
	t->slen = o - t->soff;
	*sused = o;
	*end = i + 1;
	return 0;
}

int sc_lex_line(sc_line *l, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;
	uint32_t sused = 0;
	int rc;

	l->text = text;
	l->len = len;
	l->ntok = 0;
	l->comment_col = -1;
	l->code_end = 0;
	l->err[0] = '\0';
	l->err_col = 0;
	rc = check_bytes(l);
	if (rc != 0)
		return rc;

	while (i < len) {
		unsigned char c = p[i];
		sc_tok *t;

		if (is_blank(c)) {
			i++;
			continue;
		}
		if (c == '#') {
			l->comment_col = (int)i;
			break;
		}
		if (is_control(c))
			return lex_error(l, i, c == '\r' ? "carriage return in the middle of a line"
							  : "control character 0x%02x", c);
		if (c >= 0x80)
			return lex_error(l, i, "non-ASCII character outside a string or comment");
		t = &l->toks[l->ntok++];
		memset(t, 0, sizeof(*t));
		t->col = (uint32_t)i;
		if (c == '"') {
			size_t end = i;

			t->kind = SC_T_STRING;
			rc = lex_string(l, i, &end, &sused, t);
			if (rc != 0)
				return rc;
			i = end;
		} else if (c == '=' && i + 1 < len && p[i + 1] == '>') {
			t->kind = SC_T_ARROW;
			i += 2;
		} else if (c == '=') {
			t->kind = SC_T_EQ;
			i++;
		} else if (c == '|') {
			t->kind = SC_T_PIPE;
			i++;
		} else {
			t->kind = SC_T_WORD;
			while (i < len && !is_blank(p[i]) && p[i] != '"' && p[i] != '#' &&
			       p[i] != '|' && p[i] != '=') {
				if (is_control(p[i]))
					return lex_error(l, i, p[i] == '\r' ? "carriage return in the middle of a line"
									 : "control character 0x%02x", p[i]);
				if (p[i] >= 0x80)
					return lex_error(l, i, "non-ASCII character outside a string or comment");
				i++;
			}
		}
		t->len = (uint32_t)(i - t->col);
		l->code_end = (uint32_t)i;
	}
	return 0;
}
