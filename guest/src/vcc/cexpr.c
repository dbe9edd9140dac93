/* cexpr.c: vcc's constant expressions: array sizes, case labels, global initializers (part of vcluster's own compiler, vcc).
 *
 * Computed as they are parsed, with the operators' precedences of expr.c;
 * they write no code.  Anything that could overflow or is not defined the
 * same everywhere (a negative shift, an overflow) is an error, so that vcc
 * computes the same value wherever it is built; division truncates (C99).
 */
#include "vcc.h"

static int cunary(void);

#define INT_MAX_ 2147483647
#define INT_MIN_ (-2147483647 - 1)

/* v OP r for + - *, refused where C's int would overflow (undefined: it must not depend on the machine) */
static int checked(int op, int v, int r)
{
	int bad = 0;
	if (op == '+')
		bad = (r > 0 && v > INT_MAX_ - r) || (r < 0 && v < INT_MIN_ - r);
	else if (op == '-')
		bad = (r < 0 && v > INT_MAX_ + r) || (r > 0 && v < INT_MIN_ + r);
	else if (v != 0 && r != 0) {
		if (v > 0)
			bad = r > 0 ? v > INT_MAX_ / r : r < INT_MIN_ / v;
		else
			bad = r > 0 ? v < INT_MIN_ / r : r < INT_MAX_ / v;
	}
	if (bad)
		error("constant expression overflows");
	if (op == '+')
		return v + r;
	if (op == '-')
		return v - r;
	return v * r;
}

static int cbinary(int minprec)
{
	int v = cunary();
	while (prec(tok) >= minprec && prec(tok) > 0) {
		int op = tok;
		int r;
		next();
		r = cbinary(prec(op) + 1);
		if (op == T_OROR)
			v = v || r;
		else if (op == T_ANDAND)
			v = v && r;
		else if (op == '|')
			v = v | r;
		else if (op == '^')
			v = v ^ r;
		else if (op == '&')
			v = v & r;
		else if (op == T_EQ)
			v = v == r;
		else if (op == T_NE)
			v = v != r;
		else if (op == '<')
			v = v < r;
		else if (op == '>')
			v = v > r;
		else if (op == T_LE)
			v = v <= r;
		else if (op == T_GE)
			v = v >= r;
		else if (op == T_SHL) {
			if (r < 0 || r > 30 || v < 0 || v > (2147483647 >> r))
				error("constant shift out of range");
			v = v << r;
		} else if (op == T_SHR) {
			if (r < 0 || r > 31 || v < 0)
				error("constant shift out of range");
			v = v >> r;
		} else if (op == '+' || op == '-' || op == '*')
			v = checked(op, v, r);
		else if (op == '/' || op == '%') {
			if (r == 0)
				error("constant division by zero");
			if (v == INT_MIN_ && r == -1)
				error("constant expression overflows");
			v = op == '/' ? v / r : v % r;
		}
	}
	return v;
}

static int cunary(void)
{
	int v;
	if (accept('-'))
		return checked('-', 0, cunary());
	if (accept('+'))
		return cunary();
	if (accept('!'))
		return !cunary();
	if (accept('~'))
		return ~cunary();
	if (tok == K_SIZEOF) {
		struct Type *t;
		next();
		expect('(', "'(' after sizeof");
		t = abstract_type();
		expect(')', "')' after a type");
		return t->size;
	}
	if (tok == '(' && is_type_name(peek(), peek_name())) {
		struct Type *t;
		next();
		t = abstract_type();
		expect(')', "')' after a type");
		v = cunary();
		if (t->kind == TY_CHAR || t->kind == TY_SHORT) {	/* the low bits, as the 68000 keeps them */
			int bits = t->size == 1 ? 255 : 65535;
			v = v & bits;
			if (!t->uns && v > bits / 2)
				v = v - bits - 1;
		}
		return v;
	}
	if (accept('(')) {
		v = const_expr();
		expect(')', "')'");
		return v;
	}
	if (tok == T_IDENT && tokname->isenum) {
		v = tokname->enumval;
		next();
		return v;
	}
	if (tok != T_NUM)
		error("expected a constant");
	v = tokval;
	next();
	return v;
}

int const_expr(void)
{
	int v = cbinary(1);
	if (accept('?')) {
		int a = const_expr();
		int b;
		expect(':', "':' in ?:");
		b = const_expr();
		v = v ? a : b;
	}
	return v;
}
