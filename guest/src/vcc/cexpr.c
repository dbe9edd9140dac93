/* cexpr.c: vcc's constant expressions: array sizes, case labels, global initializers (part of vcluster's own compiler, vcc).
 *
 * Computed as they are parsed, with the operators' precedences of expr.c;
 * they write no code.  Anything that could overflow or is not defined the
 * same everywhere (a negative shift, a division of negative numbers) is an
 * error, so that vcc computes the same value wherever it is built.
 */
#include "vcc.h"

static int cunary(void);

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
		} else if (op == '+')
			v = v + r;
		else if (op == '-')
			v = v - r;
		else if (op == '*')
			v = v * r;
		else if (op == '/' || op == '%') {
			if (r == 0)
				error("constant division by zero");
			if (v < 0 || r < 0)
				error("constant division of negative numbers");
			v = op == '/' ? v / r : v % r;
		}
	}
	return v;
}

static int cunary(void)
{
	int v;
	if (accept('-'))
		return -cunary();
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
