/* gen.c: vcc's output, 68000 assembly text for GNU as (part of vcluster's own compiler, vcc).
 *
 * The file is written through one buffer; a function's code goes to a
 * buffer of its own first (its frame size is known only at its end), and
 * string literals go straight to the file, in .rodata.  The code keeps the
 * value of an expression in %d0, a second operand in %d1, addresses in %a0,
 * and saves nothing else: %d0-%d1/%a0-%a1 are the scratch registers of the
 * m68k calling convention.
 */
#include "vcc.h"

struct Buf *code;
int suppress;
int labels;

static struct Buf filebuf;
static void *outf;
static char *outname;

void buf_add(struct Buf *b, char *s, int n)
{
	if (b->len + n > b->cap) {
		int cap = b->cap * 2 + n + 256;
		char *p = alloc(cap);
		if (b->len)
			memcpy(p, b->data, b->len);
		if (b->data)
			free(b->data);
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len = b->len + n;
}

void buf_init(struct Buf *b)
{
	b->data = 0;
	b->len = 0;
	b->cap = 0;
}

/* b's text appended to the code being written; b freed */
void buf_emit(struct Buf *b)
{
	if (b->len && !suppress)
		buf_add(code, b->data, b->len);
	if (b->data)
		free(b->data);
	buf_init(b);
}

void out_open(char *path)
{
	outname = path;
	outf = fopen(path, "wb");
	if (!outf)
		error2("cannot write", path);
	code = &filebuf;
}

void out_flush(void)
{
	if (filebuf.len && (int)fwrite(filebuf.data, 1, filebuf.len, outf) != filebuf.len)
		error2("cannot write", outname);
	filebuf.len = 0;
}

void out_close(void)
{
	out_flush();
	if (fclose(outf) != 0)
		error2("cannot write", outname);
}

void out_to(struct Buf *b)
{
	code = b;
}

void out_file(void)
{
	code = &filebuf;
	if (filebuf.len > 16384)
		out_flush();
}

void out(char *s)
{
	if (!suppress)
		buf_add(code, s, strlen(s));
}

void outc(int c)
{
	char b[2];
	b[0] = c;
	b[1] = 0;
	out(b);
}

void outn(int n)
{
	char b[16];
	int i = 15;
	int neg = n < 0;
	b[i] = 0;
	if (n == -2147483647 - 1) {
		out("-2147483648");
		return;
	}
	if (neg)
		n = -n;
	do {
		b[--i] = '0' + n % 10;
		n = n / 10;
	} while (n);
	if (neg)
		b[--i] = '-';
	out(b + i);
}

void outlabel(int l)
{
	out(".L");
	outn(l);
}

/* one instruction */
void ins(char *s)
{
	out("\t");
	out(s);
	out("\n");
}

/* an instruction with a number in it: A N B */
void ins_n(char *a, int n, char *b)
{
	out("\t");
	out(a);
	outn(n);
	out(b);
	out("\n");
}

/* an instruction whose operand is a label */
void ins_l(char *a, int l)
{
	out("\t");
	out(a);
	outlabel(l);
	out("\n");
}

int new_label(void)
{
	labels++;
	return labels;
}

void def_label(int l)
{
	outlabel(l);
	out(":\n");
}

void jump(char *op, int l)
{
	out("\t");
	out(op);
	out(" ");
	outlabel(l);
	out("\n");
}

/* a string literal's bytes in .rodata; its label */
int string_literal(char *s, int len)
{
	struct Buf *was = code;
	int l = new_label();
	int i;
	if (suppress)
		return l;
	code = &filebuf;
	out("\t.section\t.rodata\n");
	def_label(l);
	for (i = 0; i <= len; i++) {
		if (i % 16 == 0)
			out(i ? "\n\t.byte\t" : "\t.byte\t");
		else
			out(",");
		outn(i < len ? s[i] & 255 : 0);
	}
	out("\n");
	code = was;
	return l;
}

void push(void)
{
	ins("move.l %d0,-(%sp)");
}

void pop(char *reg)
{
	out("\tmove.l (%sp)+,");
	out(reg);
	out("\n");
}

/* %d0 = n */
void li(int n)
{
	if (n >= -128 && n <= 127)
		ins_n("moveq #", n, ",%d0");
	else
		ins_n("move.l #", n, ",%d0");
}

void add_const(int n)
{
	if (n == 0)
		return;
	if (n >= 1 && n <= 8)
		ins_n("addq.l #", n, ",%d0");
	else if (n <= -1 && n >= -8)
		ins_n("subq.l #", -n, ",%d0");
	else
		ins_n("add.l #", n, ",%d0");
}

/* %d0 = %d0 * size (an index scaled to bytes); keeps %d1 */
void scale(int size)
{
	int shift = 0;
	int n = 1;
	if (size == 1)
		return;
	while (n < size && shift < 30) {
		n = n * 2;
		shift++;
	}
	if (n == size && shift <= 8) {
		ins_n("lsl.l #", shift, ",%d0");
		return;
	}
	ins("move.l %d1,-(%sp)");
	ins_n("pea ", size, "");
	push();
	ins("jsr __mulsi3");
	ins("addq.l #8,%sp");
	pop("%d1");
}
