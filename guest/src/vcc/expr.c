/* expr.c: vcc's expressions, compiled as they are parsed (part of vcluster's own compiler, vcc).
 *
 * An expression leaves its value in %d0.  When it is an lvalue (a variable,
 * *p, a[i], s.m, p->m) %d0 holds its address instead and `lv` says so: an
 * assignment stores there, anything else loads it first (rvalue()).  A
 * binary operator keeps its left operand on the stack while the right one
 * is computed (ops.c writes the operators' code).  Constant expressions
 * (array sizes, case labels, global initializers) are computed by
 * const_expr() in cexpr.c, which writes no code.
 */
#include "vcc.h"

static int lv;

static struct Type *unary(void);
static struct Type *cond_expr(void);

struct Type *rvalue(struct Type *t)
{
	if (t->kind == TY_ARRAY) {
		lv = 0;
		return ptr_to(t->base);
	}
	if (t->kind == TY_FUNC) {
		lv = 0;
		return ptr_to(t);
	}
	if (lv) {
		lv = 0;
		if (t->kind != TY_STRUCT)
			load(t);
	}
	return t;
}

int prec(int t)
{
	if (t == T_OROR)
		return 1;
	if (t == T_ANDAND)
		return 2;
	if (t == '|')
		return 3;
	if (t == '^')
		return 4;
	if (t == '&')
		return 5;
	if (t == T_EQ || t == T_NE)
		return 6;
	if (t == '<' || t == '>' || t == T_LE || t == T_GE)
		return 7;
	if (t == T_SHL || t == T_SHR)
		return 8;
	if (t == '+' || t == '-')
		return 9;
	if (t == '*' || t == '/' || t == '%')
		return 10;
	return 0;
}

static struct Type *binary(int minprec)
{
	struct Type *t = unary();
	while (prec(tok) >= minprec && prec(tok) > 0) {
		int op = tok;
		int p = prec(op);
		t = rvalue(t);
		next();
		if (op == T_ANDAND || op == T_OROR) {
			int skip = new_label();
			int end = new_label();
			ins("tst.l %d0");
			jump(op == T_ANDAND ? "jeq" : "jne", skip);
			rvalue(binary(p + 1));
			ins("tst.l %d0");
			jump(op == T_ANDAND ? "jeq" : "jne", skip);
			li(op == T_ANDAND);
			jump("jra", end);
			def_label(skip);
			li(op != T_ANDAND);
			def_label(end);
			t = ty_int;
		} else {
			struct Type *rt;
			push();
			rt = rvalue(binary(p + 1));
			t = binop(op, t, rt);
		}
	}
	return t;
}

static struct Type *cond_expr(void)
{
	struct Type *t = binary(1);
	struct Type *f;
	int no;
	int end;
	if (tok != '?')
		return t;
	next();
	rvalue(t);
	no = new_label();
	end = new_label();
	ins("tst.l %d0");
	jump("jeq", no);
	t = rvalue(expr());
	expect(':', "':' in ?:");
	jump("jra", end);
	def_label(no);
	f = rvalue(cond_expr());
	def_label(end);
	if (is_ptr(f) && !is_ptr(t))
		return f;
	return t;
}

static int is_assign_op(int t)
{
	return t == '=' || (t >= T_ADDEQ && t <= T_SHREQ);
}

struct Type *assign(void)
{
	struct Type *t = cond_expr();
	int op = tok;
	struct Type *rt;
	if (!is_assign_op(op))
		return t;
	next();
	if (!lv)
		error("not an lvalue: cannot assign");
	lv = 0;
	if (!is_scalar(t))
		error("assigning a struct or an array is not supported");
	push();
	if (op == '=') {
		rt = rvalue(assign());
		if (!is_scalar(rt))
			error("assigning a value that is not a scalar");
	} else {
		ins("move.l (%sp),%d0");
		load(t);
		push();
		rt = rvalue(assign());
		binop(op, t, rt);
	}
	pop("%a0");
	store(t);
	convert(t);
	return t;
}

struct Type *expr(void)
{
	struct Type *t = assign();
	while (accept(',')) {
		rvalue(t);
		t = assign();
	}
	return t;
}

/* ++x, --x, x++, x-- on the lvalue whose address is in %d0 */
static struct Type *incdec(struct Type *t, int op, int post)
{
	int n = 1;
	char size = size_suffix(t);
	if (!lv)
		error("not an lvalue: cannot increment");
	lv = 0;
	if (t->kind == TY_PTR)
		n = elem_size(t);
	else if (!is_scalar(t))
		error("cannot increment this");
	if (post)
		load(t);
	else
		ins("move.l %d0,%a0");
	out("\t");
	if (n <= 8)
		out(op == T_INC ? "addq." : "subq.");
	else
		out(op == T_INC ? "add." : "sub.");
	outc(size);
	out(" #");
	outn(n);
	out(",(%a0)\n");
	if (!post) {
		ins("move.l %a0,%d0");
		load(t);
	}
	return t;
}

static struct Type *call(struct Name *name)
{
	struct Sym *s = name->global;
	struct Type *ret = ty_int;
	int n = 0;
	int i;
	if (s && s->kind == S_FUNC)
		ret = s->type->base;
	else if (find_var(name))
		error2("calls through pointers are not supported", name->text);
	while (!accept(')')) {
		struct Type *t = rvalue(assign());
		if (t->kind == TY_STRUCT)
			error("struct arguments are not supported");
		push();
		n++;
		if (tok != ')')
			expect(',', "',' between arguments");
	}
	/* pushed left to right: the convention wants the first on top */
	for (i = 0; i < n / 2; i++) {
		ins_n("move.l ", 4 * i, "(%sp),%d0");
		ins_n("move.l ", 4 * (n - 1 - i), "(%sp),%d1");
		ins_n("move.l %d1,", 4 * i, "(%sp)");
		ins_n("move.l %d0,", 4 * (n - 1 - i), "(%sp)");
	}
	out("\tjsr ");
	out(name->text);
	out("\n");
	if (n > 0 && n <= 2)
		ins_n("addq.l #", 4 * n, ",%sp");
	else if (n > 2)
		ins_n("lea ", 4 * n, "(%sp),%sp");
	if (ret->kind == TY_PTR)
		ins("move.l %a0,%d0");
	convert(ret);	/* a char or short result: only its low bits are the callee's */
	return ret;
}

static struct Type *primary(void)
{
	struct Type *t;
	if (accept('(')) {
		t = expr();
		expect(')', "')'");
		return t;
	}
	if (tok == T_NUM) {
		int uns = tokuns;
		li(tokval);
		next();
		lv = 0;
		return uns ? arith_type(ty_int, 0) : ty_int;
	}
	if (tok == T_STR) {
		char *s = tokstr;
		int len = toklen;
		int l;
		next();
		while (tok == T_STR) {	/* "abc" "def" */
			char *both = alloc(len + toklen + 1);
			memcpy(both, s, len);
			memcpy(both + len, tokstr, toklen + 1);
			free(s);
			free(tokstr);
			s = both;
			len = len + toklen;
			next();
		}
		l = string_literal(s, len);
		free(s);
		out("\tmove.l #");
		outlabel(l);
		out(",%d0\n");
		lv = 0;
		return array_of(ty_char, len + 1);
	}
	if (tok == T_IDENT) {
		struct Name *name = tokname;
		struct Sym *s;
		next();
		if (accept('(')) {
			lv = 0;
			return call(name);
		}
		s = find_var(name);
		if ((!s || s->kind != S_LOCAL) && name->isenum) {
			li(name->enumval);
			lv = 0;
			return ty_int;
		}
		if (!s)
			error2("undeclared", name->text);
		if (s->kind == S_LOCAL)
			ins_n("lea ", s->offset, "(%fp),%a0\n\tmove.l %a0,%d0");
		else {
			out("\tmove.l #");
			out(name->text);
			out(",%d0\n");
		}
		lv = s->kind != S_FUNC;
		return s->type;
	}
	if (tok == T_EOF)
		error("unexpected end of file");
	error("expected an expression");
	return 0;
}

static struct Member *member(struct Type *t)
{
	struct Member *m;
	if (t->kind != TY_STRUCT)
		error("member of something that is not a struct");
	if (!t->complete)
		error("member of an incomplete struct");
	if (tok != T_IDENT)
		error("expected a member name");
	for (m = t->members; m; m = m->next)
		if (m->name == tokname)
			break;
	if (!m)
		error2("no such member", tokname->text);
	next();
	return m;
}

static struct Type *postfix(void)
{
	struct Type *t = primary();
	struct Member *m;
	while (1) {
		if (accept('[')) {
			struct Type *it;
			t = rvalue(t);
			if (t->kind != TY_PTR)
				error("subscript of something that is not an array or a pointer");
			push();
			it = rvalue(expr());
			if (is_ptr(it))
				error("subscript is a pointer");
			expect(']', "']'");
			scale(elem_size(t));
			ins("move.l %d0,%d1");
			pop("%d0");
			ins("add.l %d1,%d0");
			t = t->base;
			lv = 1;
		} else if (accept('.')) {
			if (!lv)
				error("member of a value that is not an lvalue");
			m = member(t);
			add_const(m->offset);
			t = m->type;
			lv = 1;
		} else if (accept(T_ARROW)) {
			t = rvalue(t);
			if (t->kind != TY_PTR)
				error("-> on something that is not a pointer");
			m = member(t->base);
			add_const(m->offset);
			t = m->type;
			lv = 1;
		} else if (tok == T_INC || tok == T_DEC) {
			int op = tok;
			next();
			t = incdec(t, op, 1);
		} else
			return t;
	}
}

static int type_follows(void)
{
	int t = peek();
	return is_type_name(t, peek_name());
}

static struct Type *unary(void)
{
	struct Type *t;
	if (accept('-')) {
		t = rvalue(unary());
		ins("neg.l %d0");
		return ty_int;
	}
	if (accept('+'))
		return rvalue(unary());
	if (accept('!')) {
		rvalue(unary());
		ins("tst.l %d0");
		ins("seq %d0");
		ins("and.l #1,%d0");
		return ty_int;
	}
	if (accept('~')) {
		t = rvalue(unary());
		ins("not.l %d0");
		return t;
	}
	if (accept('*')) {
		t = rvalue(unary());
		if (t->kind != TY_PTR)
			error("* of something that is not a pointer");
		if (t->base->kind == TY_VOID)
			error("* of a void pointer");
		lv = 1;
		return t->base;
	}
	if (accept('&')) {
		t = unary();
		if (!lv && t->kind != TY_FUNC && t->kind != TY_ARRAY)
			error("& of something that is not an lvalue");
		lv = 0;
		return ptr_to(t);
	}
	if (tok == T_INC || tok == T_DEC) {
		int op = tok;
		next();
		return incdec(unary(), op, 0);
	}
	if (tok == K_SIZEOF) {
		int size;
		next();
		if (tok == '(' && type_follows()) {
			next();
			t = abstract_type();
			expect(')', "')' after a type");
		} else {
			suppress++;
			t = unary();
			suppress--;
		}
		lv = 0;
		size = t->size;
		if (size <= 0)
			error("sizeof of an incomplete type");
		li(size);
		return ty_int;
	}
	if (tok == '(' && type_follows()) {
		struct Type *to;
		next();
		to = abstract_type();
		expect(')', "')' after a type");
		t = rvalue(unary());
		if (to->kind == TY_VOID)
			return to;
		if (!is_scalar(to) || !is_scalar(t))
			error("casts are between scalars");
		convert(to);
		return to;
	}
	return postfix();
}

