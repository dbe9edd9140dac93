/* cpp.c: vcc's preprocessor directives (part of vcluster's own compiler, vcc).
 *
 * A directive is a line of a file that starts with '#': #include "FILE" (a
 * file next to the one including it; <FILE> is skipped: vcc reads no system
 * headers), #define NAME TEXT and #undef NAME (no macros with arguments),
 * #ifdef, #ifndef, #if NUMBER, #else, #endif, #error; #pragma is ignored.
 */
#include "vcc.h"

/* the rest of a directive's line, comments replaced by a blank */
static char *rest_of_line(void)
{
	char line[512];
	int n = 0;
	int c;
	while (1) {
		c = peekc();
		if (c == 0 || c == '\n')
			break;
		nextc();
		if (c == '/' && peekc() == '/') {
			while (peekc() && peekc() != '\n')
				nextc();
			break;
		}
		if (c == '/' && peekc() == '*') {
			nextc();
			while (peekc() && !(peekc() == '*' && src->buf[src->pos + 1] == '/'))
				nextc();
			if (peekc()) {
				nextc();
				nextc();
			}
			c = ' ';
		}
		if (n < 510)
			line[n++] = c;
	}
	while (n > 0 && is_space(line[n - 1]))
		n--;
	line[n++] = ' ';
	return dupstr(line, n);
}

static int word(char *buf, int max)
{
	int n = 0;
	while (is_space(peekc()))
		nextc();
	while (is_alnum(peekc()) && n < max - 1)
		buf[n++] = nextc();
	buf[n] = 0;
	return n;
}

static void skip_line(void)
{
	while (peekc() && peekc() != '\n')
		nextc();
}

/* skip the lines of a false branch: up to its #else (else_ok) or #endif */
static void skip_branch(int else_ok)
{
	int depth = 0;
	char d[32];
	while (peekc()) {
		while (is_space(peekc()))
			nextc();
		if (peekc() == '#') {
			nextc();
			word(d, 32);
			if (strcmp(d, "if") == 0 || strcmp(d, "ifdef") == 0 || strcmp(d, "ifndef") == 0)
				depth++;
			else if (strcmp(d, "endif") == 0) {
				if (depth == 0) {
					nconds--;
					skip_line();
					return;
				}
				depth--;
			} else if (strcmp(d, "else") == 0 && depth == 0 && else_ok) {
				skip_line();
				return;
			}
		}
		skip_line();
		if (peekc())
			nextc();
	}
	error("#if without #endif");
}

static char *include_path(char *name)
{
	int i;
	int dir = -1;
	char *p;
	for (i = 0; curfile[i]; i++)
		if (curfile[i] == '/')
			dir = i;
	if (dir < 0)
		return name;
	p = alloc(dir + 2 + strlen(name));
	memcpy(p, curfile, dir + 1);
	memcpy(p + dir + 1, name, strlen(name) + 1);
	return p;
}

void directive(void)
{
	char d[32];
	char name[256];
	int n;
	char *text;
	word(d, 32);
	if (strcmp(d, "include") == 0) {
		while (is_space(peekc()))
			nextc();
		if (peekc() == '<') {
			skip_line();
			return;
		}
		if (nextc() != '"')
			error("#include expects \"FILE\"");
		n = 0;
		while (peekc() && peekc() != '"' && peekc() != '\n' && n < 255)
			name[n++] = nextc();
		name[n] = 0;
		if (nextc() != '"')
			error("#include expects \"FILE\"");
		skip_line();
		{
			char *path = include_path(name);
			int len;
			char *buf = read_file(path, &len);
			if (!buf)
				error2("cannot open", path);
			push_src(buf, dupstr(path, strlen(path)), 0);
			curfile = src->name;
			curline = 1;
		}
	} else if (strcmp(d, "define") == 0) {
		if (!word(name, 256))
			error("#define expects a name");
		if (peekc() == '(')
			error2("macros with arguments are not supported", name);
		define(dupstr(name, strlen(name)), rest_of_line());
	} else if (strcmp(d, "undef") == 0) {
		word(name, 256);
		intern(name, strlen(name))->macro = 0;
		skip_line();
	} else if (strcmp(d, "ifdef") == 0 || strcmp(d, "ifndef") == 0) {
		word(name, 256);
		skip_line();
		nconds++;
		n = intern(name, strlen(name))->macro != 0;
		if (d[2] == 'n')
			n = !n;
		if (!n)
			skip_branch(1);
	} else if (strcmp(d, "if") == 0) {
		text = rest_of_line();
		nconds++;
		while (is_space(*text))
			text++;
		if (!is_digit(*text))
			error("#if takes only a number");
		if (*text == '0' && !is_digit(text[1]))
			skip_branch(1);
	} else if (strcmp(d, "else") == 0) {
		if (nconds == 0)
			error("#else without #if");
		skip_line();
		skip_branch(0);
	} else if (strcmp(d, "endif") == 0) {
		if (nconds == 0)
			error("#endif without #if");
		nconds--;
		skip_line();
	} else if (strcmp(d, "error") == 0) {
		error2("#error", rest_of_line());
	} else if (strcmp(d, "pragma") == 0 || d[0] == 0) {
		skip_line();
	} else {
		error2("unknown directive", d);
	}
}

