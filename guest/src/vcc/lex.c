/* lex.c: vcc's tokenizer and its stack of sources (part of vcluster's own compiler, vcc).
 *
 * Sources are a stack: the file being compiled, the files it #includes and
 * the text of the macros being expanded.  A directive is a line that starts
 * with '#' in a file (cpp.c).  Identifiers are interned (struct Name), so a keyword,
 * a macro, a global and a struct tag are found without a search.
 */
#include "vcc.h"

int tok;
int tokval;
int tokuns;
char *tokstr;
int toklen;
struct Name *tokname;
char *curfile;
int curline;

struct Src *src;
int bol;
int nconds;
static int peeked;
static int pk_tok;
static int pk_val;
static char *pk_str;
static int pk_len;
static struct Name *pk_name;
static struct Name *buckets[1024];

static char *kwnames[] = {
	"int", "char", "short", "long", "unsigned", "signed", "void", "struct",
	"union", "if", "else", "while", "for", "do", "return", "break",
	"continue", "switch", "case", "default", "sizeof", "static", "extern",
	"const", "volatile", "register", "auto", "typedef", "enum", "goto"
};

struct Name *intern(char *s, int len)
{
	int h = 0;
	int i;
	struct Name *n;
	for (i = 0; i < len; i++)
		h = (h * 31 + (s[i] & 255)) & 1023;
	for (n = buckets[h]; n; n = n->next)
		if (n->len == len && memcmp(n->text, s, len) == 0)
			return n;
	n = alloc(sizeof(struct Name));
	n->text = dupstr(s, len);
	n->len = len;
	n->next = buckets[h];
	buckets[h] = n;
	return n;
}

void push_src(char *buf, char *name, int macro)
{
	struct Src *s = alloc(sizeof(struct Src));
	s->buf = buf;
	s->name = name;
	s->line = 1;
	s->macro = macro;
	s->prev = src;
	src = s;
	if (!macro)
		bol = 1;
}

void define(char *name, char *text)
{
	struct Name *n = intern(name, strlen(name));
	n->macro = text;
}

void lex_open(char *path)
{
	int len;
	int i;
	char *buf = read_file(path, &len);
	if (!buf)
		error2("cannot open", path);
	for (i = 0; i < NKW; i++)
		intern(kwnames[i], strlen(kwnames[i]))->kw = T_KW + i;
	define("__VCC__", "1 ");
	push_src(buf, path, 0);
	curfile = path;
	curline = 1;
}

/* the next character, leaving the sources that end (but not the first): -1 at its end */
int nextc(void)
{
	int c;
	while (1) {
		c = src->buf[src->pos] & 255;
		if (c) {
			src->pos++;
			if (c == '\n' && !src->macro) {
				src->line++;
				bol = 1;
			}
			return c;
		}
		if (!src->prev)
			return -1;
		src = src->prev;
		if (!src->macro) {
			curfile = src->name;
			curline = src->line;
		}
	}
}

int peekc(void)
{
	return src->buf[src->pos] & 255;
}

int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

int is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int escape(void)
{
	int c = nextc();
	int v;
	int i;
	if (c == 'n')
		return '\n';
	if (c == 't')
		return '\t';
	if (c == 'r')
		return '\r';
	if (c == 'a')
		return 7;
	if (c == 'b')
		return 8;
	if (c == 'f')
		return 12;
	if (c == 'v')
		return 11;
	if (c == 'x') {
		v = 0;
		while (1) {
			c = peekc();
			if (is_digit(c))
				v = v * 16 + c - '0';
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + c - 'A' + 10;
			else
				break;
			v = v & 255;
			nextc();
		}
		return v;
	}
	if (c >= '0' && c <= '7') {
		v = c - '0';
		for (i = 0; i < 2 && peekc() >= '0' && peekc() <= '7'; i++)
			v = v * 8 + nextc() - '0';
		return v & 255;
	}
	return c;
}

/* a constant's 32 bits, kept in 16-bit halves (no int overflows): above 0x7fffffff it is unsigned */
static int number(int c)
{
	int hi = 0;
	int lo = 0;
	int base = 10;
	int d;
	tokuns = 0;
	if (c == '0' && (peekc() == 'x' || peekc() == 'X')) {
		nextc();
		base = 16;
		c = nextc();
	} else if (c == '0')
		base = 8;
	while (1) {
		if (is_digit(c))
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (d >= base)
			error("bad digit in a number");
		lo = lo * base + d;
		hi = hi * base + (lo >> 16);
		lo = lo & 65535;
		if (hi > 65535)
			error("number too large (vcc's int is 32 bits)");
		if (!is_alnum(peekc()))
			break;
		c = nextc();
	}
	while (peekc() == 'u' || peekc() == 'U' || peekc() == 'l' || peekc() == 'L') {
		d = nextc();
		if (d == 'u' || d == 'U')
			tokuns = 1;
	}
	if (c == 'u' || c == 'U')
		tokuns = 1;
	if (hi > 32767) {
		tokuns = 1;
		return (hi - 65536) * 65536 + lo;
	}
	return hi * 65536 + lo;
}

static void string(void)
{
	int cap = 64;
	int n = 0;
	char *s = alloc(cap);
	int c;
	while (1) {
		c = nextc();
		if (c == '"')
			break;
		if (c == '\n' || c == -1)
			error("unterminated string");
		if (c == '\\')
			c = escape();
		if (n + 1 >= cap) {
			cap = cap * 2;
			s = realloc(s, cap);
			if (!s)
				error("out of memory");
		}
		s[n++] = c;
	}
	s[n] = 0;
	tokstr = s;
	toklen = n;
}

static int two(int c, int second, int t2, int eq)
{
	int p = peekc();
	if (second && p == second) {
		nextc();
		return t2;
	}
	if (eq && p == '=') {
		nextc();
		return eq;
	}
	return c;
}

static void lex(void)
{
	int c;
	char id[256];
	int n;
	struct Name *nm;
	while (1) {
		c = nextc();
		if (c == '\n' || is_space(c))
			continue;
		if (c == '#' && bol && !src->macro) {
			directive();
			continue;
		}
		if (c == '/' && peekc() == '/') {
			while (peekc() && peekc() != '\n')
				nextc();
			continue;
		}
		if (c == '/' && peekc() == '*') {
			nextc();
			while (1) {
				c = nextc();
				if (c == -1)
					error("unterminated comment");
				if (c == '*' && peekc() == '/')
					break;
			}
			nextc();
			continue;
		}
		break;
	}
	bol = 0;
	if (!src->macro)
		curline = src->line;
	if (c == -1) {
		if (nconds)
			error("#if without #endif");
		tok = T_EOF;
		return;
	}
	if (is_digit(c)) {
		tok = T_NUM;
		tokval = number(c);
		return;
	}
	if (is_alpha(c)) {
		n = 0;
		id[n++] = c;
		while (is_alnum(peekc())) {
			if (n >= 255)
				error("identifier too long");
			id[n++] = nextc();
		}
		nm = intern(id, n);
		if (nm->macro) {
			push_src(nm->macro, 0, 1);
			lex();
			return;
		}
		tokname = nm;
		tok = nm->kw ? nm->kw : T_IDENT;
		return;
	}
	if (c == '"') {
		tok = T_STR;
		string();
		return;
	}
	if (c == '\'') {
		c = nextc();
		if (c == '\\')
			c = escape();
		if (nextc() != '\'')
			error("bad character constant");
		tok = T_NUM;
		tokval = c;
		if (tokval > 127)
			tokval = tokval - 256;	/* char is signed */
		return;
	}
	if (c == '-') {
		if (peekc() == '>') {
			nextc();
			tok = T_ARROW;
			return;
		}
		tok = two(c, '-', T_DEC, T_SUBEQ);
		return;
	}
	if (c == '+') {
		tok = two(c, '+', T_INC, T_ADDEQ);
		return;
	}
	if (c == '<' || c == '>') {
		int left = c == '<';
		if (peekc() == c) {
			nextc();
			tok = two(left ? T_SHL : T_SHR, 0, 0, left ? T_SHLEQ : T_SHREQ);
		} else
			tok = two(c, 0, 0, left ? T_LE : T_GE);
		return;
	}
	if (c == '=') {
		tok = two(c, 0, 0, T_EQ);
		return;
	}
	if (c == '!') {
		tok = two(c, 0, 0, T_NE);
		return;
	}
	if (c == '&') {
		tok = two(c, '&', T_ANDAND, T_ANDEQ);
		return;
	}
	if (c == '|') {
		tok = two(c, '|', T_OROR, T_OREQ);
		return;
	}
	if (c == '*') {
		tok = two(c, 0, 0, T_MULEQ);
		return;
	}
	if (c == '/') {
		tok = two(c, 0, 0, T_DIVEQ);
		return;
	}
	if (c == '%') {
		tok = two(c, 0, 0, T_MODEQ);
		return;
	}
	if (c == '^') {
		tok = two(c, 0, 0, T_XOREQ);
		return;
	}
	if (c == '.' && peekc() == '.') {
		nextc();
		if (nextc() != '.')
			error("stray '..'");
		tok = T_ELLIPSIS;
		return;
	}
	if (c == '(' || c == ')' || c == '{' || c == '}' || c == '[' || c == ']' || c == ';' || c == ','
	    || c == '.' || c == '?' || c == ':' || c == '~') {
		tok = c;
		return;
	}
	id[0] = c;
	id[1] = 0;
	error2("stray character", id);
}

void next(void)
{
	if (peeked) {
		peeked = 0;
		tok = pk_tok;
		tokval = pk_val;
		tokstr = pk_str;
		toklen = pk_len;
		tokname = pk_name;
		return;
	}
	lex();
}

/* the token after this one */
int peek(void)
{
	int t = tok;
	int v = tokval;
	char *s = tokstr;
	int l = toklen;
	struct Name *nm = tokname;
	if (!peeked) {
		lex();
		pk_tok = tok;
		pk_val = tokval;
		pk_str = tokstr;
		pk_len = toklen;
		pk_name = tokname;
		peeked = 1;
	}
	tok = t;
	tokval = v;
	tokstr = s;
	toklen = l;
	tokname = nm;
	return pk_tok;
}

/* the identifier peek() saw (when it saw one) */
struct Name *peek_name(void)
{
	return pk_tok == T_IDENT ? pk_name : 0;
}

int accept(int t)
{
	if (tok != t)
		return 0;
	next();
	return 1;
}

void expect(int t, char *what)
{
	if (tok != t)
		error2("expected", what);
	next();
}
