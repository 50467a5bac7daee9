/*
 * src/scenario/lex.h - one line of a scenario, as tokens.
 *
 * The language is line-oriented, so the lexer works a line at a time: the
 * parser hands it the bytes of one line (without the newline) and gets back
 * the tokens, the position of a trailing comment, or the first lexical error
 * with its column.  Byte-level checks of the whole line come first (length,
 * NUL, UTF-8, control characters), so no later stage sees a byte it would
 * have to doubt.
 *
 * Tokens:
 *   WORD    a run of printable ASCII that is not blank, `"`, `#`, `|` or `=`
 *           (addresses, names, numbers, `liz:`, `127.0.0.1:*`, `1,0`)
 *   STRING  "..." with C escapes, decoded into the line's scratch buffer
 *   ARROW   =>
 *   EQ      =   (`s = socket`, `uid=0`: the parser decides what it joins)
 *   PIPE    |
 * Blanks are spaces and tabs.  `#` outside a string starts a comment that
 * runs to the end of the line.  Non-ASCII bytes (valid UTF-8) are allowed
 * only inside strings and comments.
 */
#ifndef SOCKTAB_SCENARIO_LEX_H
#define SOCKTAB_SCENARIO_LEX_H

#include <stddef.h>
#include <stdint.h>

#include "scenario/ast.h"

typedef enum sc_tokkind {
	SC_T_WORD,
	SC_T_STRING,
	SC_T_ARROW,
	SC_T_EQ,
	SC_T_PIPE,
} sc_tokkind;

typedef struct sc_tok {
	sc_tokkind kind;
	uint32_t col;       /* 0-based byte offset in the line              */
	uint32_t len;       /* bytes in the source (a STRING with quotes)   */
	uint32_t soff;      /* STRING: decoded bytes at line->sbuf + soff   */
	uint32_t slen;
} sc_tok;

/*
 * Invariant after a successful sc_lex_line: toks[0..ntok) are in column
 * order and do not overlap; comment_col is -1 or the column of the `#`
 * and every token ends before it; code_end is the end of the last token.
 */
typedef struct sc_line {
	const char *text;   /* the line, not NUL-terminated */
	size_t len;
	sc_tok toks[SC_MAX_LINE];
	uint32_t ntok;
	int comment_col;
	uint32_t code_end;
	uint8_t sbuf[SC_MAX_LINE];  /* decoded strings (never longer than the line) */
	/* on error */
	uint32_t err_col;   /* 0-based */
	char err[200];
} sc_line;

/* Lexes `len` bytes at `text`.  0, or -EINVAL with err/err_col set. */
int sc_lex_line(sc_line *l, const char *text, size_t len);

/* Source text of token t. */
static inline const char *sc_tok_text(const sc_line *l, const sc_tok *t)
{
	return l->text + t->col;
}

#endif
