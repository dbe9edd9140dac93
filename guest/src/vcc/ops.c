/* ops.c: vcc's code for loads, stores, conversions and the binary operators (part of vcluster's own compiler, vcc).
 *
 * A binary operator's left operand is on the stack and its right one in
 * %d0; the result goes to %d0.  Pointer arithmetic scales by the size of
 * what is pointed to; comparisons of pointers and unsigned values use the
 * unsigned conditions; multiplication and division call the C library's
 * helpers (__mulsi3, __divsi3, __modsi3, __udivsi3, __umodsi3): the 68000
 * has no 32-bit multiply or divide.
 */
#include "vcc.h"

static struct Type t_uint;

int size_suffix(struct Type *t)
{
	if (t->size == 1)
		return 'b';
	if (t->size == 2)
		return 'w';
	return 'l';
}

/* %d0 = *(%d0), of type t */
void load(struct Type *t)
{
	ins("move.l %d0,%a0");
	if (t->size == 1 || t->size == 2) {
		if (t->uns)
			ins("moveq #0,%d0");
		out("\tmove.");
		outc(size_suffix(t));
		out(" (%a0),%d0\n");
		if (!t->uns) {
			if (t->size == 1)
				ins("ext.w %d0");
			ins("ext.l %d0");
		}
	} else
		ins("move.l (%a0),%d0");
}

/* *(%a0) = %d0, of type t */
void store(struct Type *t)
{
	if (t->kind == TY_STRUCT || t->kind == TY_ARRAY)
		error("assigning a struct or an array is not supported");
	out("\tmove.");
	outc(size_suffix(t));
	out(" %d0,(%a0)\n");
}

/* %d0 converted to t (after a cast or an assignment to a char or short) */
void convert(struct Type *t)
{
	if (t->kind == TY_CHAR || t->kind == TY_SHORT) {
		if (t->uns)
			ins_n("and.l #", t->size == 1 ? 255 : 65535, ",%d0");
		else {
			if (t->size == 1)
				ins("ext.w %d0");
			ins("ext.l %d0");
		}
	}
}

int elem_size(struct Type *t)
{
	if (t->base->kind == TY_VOID || t->base->kind == TY_FUNC)
		return 1;
	if (t->base->size <= 0)
		error("arithmetic on a pointer to an incomplete type");
	return t->base->size;
}

/* the type of a binary operation on a and b: unsigned int if one is; b 0: unsigned int */
struct Type *arith_type(struct Type *a, struct Type *b)
{
	if (!b || (a->kind == TY_INT && a->uns) || (b->kind == TY_INT && b->uns)) {
		t_uint.kind = TY_INT;
		t_uint.size = 4;
		t_uint.align = 2;
		t_uint.uns = 1;
		return &t_uint;
	}
	return ty_int;
}

static void helper(char *name)
{
	ins("move.l %d1,-(%sp)");
	push();
	out("\tjsr ");
	out(name);
	out("\n");
	ins("addq.l #8,%sp");
}

/* %d0 = %d0 OP %d1 for the ints and the unsigned (uns) */
static void int_op(int op, int uns)
{
	char *set = 0;
	if (op == '+' || op == T_ADDEQ)
		ins("add.l %d1,%d0");
	else if (op == '-' || op == T_SUBEQ)
		ins("sub.l %d1,%d0");
	else if (op == '&' || op == T_ANDEQ)
		ins("and.l %d1,%d0");
	else if (op == '|' || op == T_OREQ)
		ins("or.l %d1,%d0");
	else if (op == '^' || op == T_XOREQ)
		ins("eor.l %d1,%d0");
	else if (op == T_SHL || op == T_SHLEQ)
		ins("lsl.l %d1,%d0");
	else if (op == T_SHR || op == T_SHREQ)
		ins(uns ? "lsr.l %d1,%d0" : "asr.l %d1,%d0");
	else if (op == '*' || op == T_MULEQ)
		helper("__mulsi3");
	else if (op == '/' || op == T_DIVEQ)
		helper(uns ? "__udivsi3" : "__divsi3");
	else if (op == '%' || op == T_MODEQ)
		helper(uns ? "__umodsi3" : "__modsi3");
	else if (op == T_EQ)
		set = "seq";
	else if (op == T_NE)
		set = "sne";
	else if (op == '<')
		set = uns ? "scs" : "slt";
	else if (op == '>')
		set = uns ? "shi" : "sgt";
	else if (op == T_LE)
		set = uns ? "sls" : "sle";
	else if (op == T_GE)
		set = uns ? "scc" : "sge";
	else
		error("bad operator");
	if (set) {
		ins("cmp.l %d1,%d0");
		out("\t");
		out(set);
		out(" %d0\n");
		ins("and.l #1,%d0");
	}
}

static int is_compare(int op)
{
	return op == T_EQ || op == T_NE || op == '<' || op == '>' || op == T_LE || op == T_GE;
}

/* left on the stack, right in %d0: the result in %d0 and its type */
struct Type *binop(int op, struct Type *lt, struct Type *rt)
{
	int add = op == '+' || op == T_ADDEQ;
	int sub = op == '-' || op == T_SUBEQ;
	if ((add || sub) && is_ptr(lt) && !is_ptr(rt)) {
		scale(elem_size(lt));
		ins("move.l %d0,%d1");
		pop("%d0");
		int_op(op, 1);
		return lt->kind == TY_ARRAY ? ptr_to(lt->base) : lt;
	}
	if (add && is_ptr(rt) && !is_ptr(lt)) {
		ins("move.l %d0,%d1");
		pop("%d0");
		scale(elem_size(rt));
		int_op(op, 1);
		return rt;
	}
	ins("move.l %d0,%d1");
	pop("%d0");
	if (sub && is_ptr(lt) && is_ptr(rt)) {
		int size = elem_size(lt);
		int_op(op, 0);
		if (size > 1) {
			ins_n("move.l #", size, ",%d1");
			int_op('/', 0);
		}
		return ty_int;
	}
	if (is_compare(op)) {
		int_op(op, is_ptr(lt) || is_ptr(rt) || arith_type(lt, rt)->uns);
		return ty_int;
	}
	if (!is_scalar(lt) || !is_scalar(rt) || is_ptr(lt) || is_ptr(rt))
		error("bad operands");
	lt = arith_type(lt, rt);
	int_op(op, lt->uns);
	return lt;
}

