/*
 * src/scenario/print.h - how results, addresses and rows are written.
 *
 * One growable text buffer (sc_buf) and the formatters that write into it.
 * Every text the runner prints, compares against a FAIL message, writes
 * into --annotate or puts into --json comes from these functions, so the
 * transcript, the annotated file and the JSON always spell a result the
 * same way, and that spelling is exactly what the parser reads back.
 *
 * Data is written as a C string literal: printable ASCII as is, `"` and
 * `\` escaped, \n \t \r by name, every other byte as \xNN (two digits, so
 * the parser's \x rule reads it back unambiguously).
 */
#ifndef SOCKTAB_SCENARIO_PRINT_H
#define SOCKTAB_SCENARIO_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario/ast.h"

/* Invariant: p is NUL-terminated at len whenever p != NULL; after an
 * allocation failure `oom` is set and further writes are dropped. */
typedef struct sc_buf {
	char *p;
	size_t len, cap;
	bool oom;
} sc_buf;

void sc_buf_free(sc_buf *b);
void sc_buf_reset(sc_buf *b);             /* len = 0, keeps the memory */
void sc_buf_put(sc_buf *b, const char *s, size_t n);
void sc_buf_puts(sc_buf *b, const char *s);
void sc_buf_putc(sc_buf *b, char c);
void sc_buf_printf(sc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sc_buf_pad(sc_buf *b, size_t col);   /* spaces up to column col */
const char *sc_buf_str(const sc_buf *b);  /* "" when empty */

/* "\"...\"" with C escapes. */
void sc_fmt_data(sc_buf *b, const uint8_t *data, size_t len);
/* 127.0.0.1:80, [::1]:80, [fe80::1%eth0]:80; "*" when family is 0. */
void sc_fmt_sockaddr(sc_buf *b, const sc_sockaddr *a);
void sc_fmt_addrpat(sc_buf *b, const sc_addrpat *a);
void sc_fmt_result(sc_buf *b, const sc_result *r);
void sc_fmt_errno(sc_buf *b, int err);
/* Row fields: proto, state, local, peer, owners (each its own string). */
void sc_fmt_lsrow_fields(const sc_lsrow *r, sc_buf f[5]);
void sc_fmt_lspat_fields(const sc_lspat *r, sc_buf f[5]);
/* Rows as `| a b c d e` lines with columns aligned, each line ending "\n";
 * `prefix` goes before each `|` (e.g. "!!   missing ").  fields: nrows*5. */
void sc_fmt_rows(sc_buf *b, const char *prefix, sc_buf *fields, size_t nrows);

/* A JSON string literal (quotes included) of n bytes of UTF-8 text;
 * invalid UTF-8 becomes U+FFFD. */
void sc_json_str(sc_buf *b, const char *s, size_t n);

/* The kind of a result as a short word ("ok", "err", "data", ...). */
const char *sc_rkind_word(sc_rkind k);

#endif
