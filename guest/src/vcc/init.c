/* init.c: vcc's globals with initializers, as .data (part of vcluster's own compiler, vcc).
 *
 * A global is written where it is defined: its label, then its bytes.  An
 * initializer is a constant, a string (for a char array or a pointer), the
 * address of a global, or a list of them for an array of scalars.  The
 * strings of an initializer go to .rodata first, so the variable's bytes
 * are collected in a buffer and written after them.
 */
#include "vcc.h"

void align_data(struct Type *t)
{
	if (t->align > 1)
		ins(".balign\t2");
}

void label_global(struct Sym *s)
{
	if (!s->isstatic) {
		out("\t.globl\t");
		out(s->name->text);
		out("\n");
	}
	out(s->name->text);
	out(":\n");
}

static void data_word(int size, int v)
{
	if (size == 1)
		ins_n(".byte\t", v & 255, "");
	else if (size == 2)
		ins_n(".short\t", v, "");
	else
		ins_n(".long\t", v, "");
}

void data_zero(int n)
{
	if (n > 0)
		ins_n(".zero\t", n, "");
}

/* one scalar initializer: a constant, a string (for a pointer) or &global / a global array */
static void init_scalar(struct Buf *b, struct Type *t)
{
	struct Buf *was = code;
	if (tok == T_STR && t->kind == TY_PTR) {
		int l = string_literal(tokstr, toklen);
		next();
		out_to(b);
		ins_l(".long\t", l);
		out_to(was);
		return;
	}
	if ((tok == '&' || tok == T_IDENT) && t->kind == TY_PTR) {
		int amp = accept('&');
		struct Sym *g;
		if (tok != T_IDENT || !tokname->global)
			error("expected a global's address");
		g = tokname->global;
		if (!amp && g->type->kind != TY_ARRAY && g->type->kind != TY_FUNC)
			error("expected a global's address");
		next();
		out_to(b);
		out("\t.long\t");
		out(g->name->text);
		out("\n");
		out_to(was);
		return;
	}
	{
		int v = const_expr();
		out_to(b);
		data_word(t->size, v);
		out_to(was);
	}
}

void global_init(struct Sym *s)
{
	struct Type *t = s->type;
	struct Buf b;
	struct Buf *was = code;
	buf_init(&b);
	if (t->kind == TY_ARRAY && t->base->kind == TY_CHAR && tok == T_STR) {
		int i;
		if (t->len < 0) {
			t->len = toklen + 1;
			t->size = t->len;
		}
		if (toklen > t->len)
			error2("initializer too long", s->name->text);
		out_to(&b);
		for (i = 0; i < t->len; i++)
			data_word(1, i < toklen ? tokstr[i] : 0);
		out_to(was);
		next();
	} else if (t->kind == TY_ARRAY && accept('{')) {
		int n = 0;
		if (!is_scalar(t->base))
			error2("only arrays of scalars take initializers", s->name->text);
		while (!accept('}')) {
			if (t->len >= 0 && n >= t->len)
				error2("too many initializers", s->name->text);
			init_scalar(&b, t->base);
			n++;
			if (tok != '}')
				expect(',', "',' between initializers");
		}
		if (t->len < 0) {
			t->len = n;
			t->size = n * t->base->size;
		}
		out_to(&b);
		data_zero((t->len - n) * t->base->size);
		out_to(was);
	} else if (is_scalar(t))
		init_scalar(&b, t);
	else
		error2("this initializer is not supported", s->name->text);
	out("\t.data\n");
	align_data(t);
	label_global(s);
	buf_emit(&b);
}

