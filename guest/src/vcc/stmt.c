/* stmt.c: vcc's statements, local variables and function bodies (part of vcluster's own compiler, vcc).
 *
 * A function's frame is made by link.w: its parameters are at 8(%fp) up, 4
 * bytes each (a char's byte is the last of its 4), its locals below %fp.  A
 * switch jumps to a chain of compares written after its body, when all its
 * case labels are known.
 */
#include "vcc.h"

struct Case {
	int value;
	int label;
	struct Case *next;
};

struct Sym *locals;
int frame;

static int brk;
static int cont;
static int inswitch;
static struct Case *cases;
static int deflabel;
static int retlabel;
static struct Type *rettype;

static void stmt(void);

struct Sym *find_var(struct Name *n)
{
	struct Sym *s;
	for (s = locals; s; s = s->next)
		if (s->name == n)
			return s;
	return n->global;
}

static struct Sym *new_local(struct Name *name, struct Type *t, int offset)
{
	struct Sym *s = alloc(sizeof(struct Sym));
	s->name = name;
	s->type = t;
	s->kind = S_LOCAL;
	s->offset = offset;
	s->next = locals;
	locals = s;
	return s;
}

/* the value of a condition, tested: a jump on eq or ne follows */
static void condition(void)
{
	struct Type *t = rvalue(expr());
	if (!is_scalar(t))
		error("a condition must be a number or a pointer");
	ins("tst.l %d0");
}

static void paren_condition(void)
{
	expect('(', "'('");
	condition();
	expect(')', "')'");
}

/* a local variable of a declaration (decl.c's declaration), its initializer stored */
void local_var(struct Name *name, struct Type *t)
{
	struct Sym *s;
	if (t->kind == TY_FUNC)
		error2("declare functions outside functions", name->text);
	if (t->size <= 0)
		error2("local of unknown size", name->text);
	frame = (frame + t->size + 1) / 2 * 2;
	s = new_local(name, t, -frame);
	if (accept('=')) {
		struct Type *v;
		if (!is_scalar(t))
			error2("only scalar locals take initializers", name->text);
		v = rvalue(assign());
		if (!is_scalar(v))
			error2("initializer is not a scalar", name->text);
		ins_n("lea ", s->offset, "(%fp),%a0");
		store(t);
	}
}

static void compound(void)
{
	struct Sym *scope = locals;
	expect('{', "'{'");
	while (!accept('}')) {
		if (tok == T_EOF)
			error("'}' missing at the end of the file");
		if (is_type_name(tok, tokname))
			declaration(1);
		else
			stmt();
	}
	locals = scope;
}

static void loop_body(int b, int c)
{
	int ob = brk;
	int oc = cont;
	brk = b;
	cont = c;
	stmt();
	brk = ob;
	cont = oc;
}

static void for_stmt(void)
{
	struct Sym *scope = locals;
	struct Buf step;
	struct Buf *was;
	int top = new_label();
	int next_l = new_label();
	int end = new_label();
	buf_init(&step);
	next();
	expect('(', "'(' after for");
	if (is_type_name(tok, tokname))
		declaration(1);
	else {
		if (tok != ';')
			rvalue(expr());
		expect(';', "';' in for");
	}
	def_label(top);
	if (tok != ';') {
		condition();
		jump("jeq", end);
	}
	expect(';', "';' in for");
	was = code;
	out_to(&step);
	if (tok != ')')
		rvalue(expr());
	out_to(was);
	expect(')', "')' in for");
	loop_body(end, next_l);
	def_label(next_l);
	buf_emit(&step);
	jump("jra", top);
	def_label(end);
	locals = scope;
}

static void switch_stmt(void)
{
	struct Case *oc = cases;
	int od = deflabel;
	int oi = inswitch;
	int ob = brk;
	int test = new_label();
	int end = new_label();
	struct Case *c;
	struct Case *rev = 0;
	struct Type *t;
	next();
	expect('(', "'(' after switch");
	t = rvalue(expr());
	if (!is_scalar(t))
		error("switch on a value that is not a number");
	expect(')', "')'");
	jump("jra", test);
	cases = 0;
	deflabel = 0;
	inswitch = 1;
	brk = end;
	stmt();
	jump("jra", end);
	def_label(test);
	while (cases) {
		c = cases;
		cases = c->next;
		c->next = rev;
		rev = c;
	}
	for (c = rev; c; c = c->next) {
		ins_n("cmp.l #", c->value, ",%d0");
		jump("jeq", c->label);
	}
	if (deflabel)
		jump("jra", deflabel);
	def_label(end);
	cases = oc;
	deflabel = od;
	inswitch = oi;
	brk = ob;
}

static void stmt(void)
{
	int l1;
	int l2;
	if (tok == '{') {
		compound();
	} else if (tok == K_IF) {
		next();
		paren_condition();
		l1 = new_label();
		jump("jeq", l1);
		stmt();
		if (accept(K_ELSE)) {
			l2 = new_label();
			jump("jra", l2);
			def_label(l1);
			stmt();
			def_label(l2);
		} else
			def_label(l1);
	} else if (tok == K_WHILE) {
		next();
		l1 = new_label();
		l2 = new_label();
		def_label(l1);
		paren_condition();
		jump("jeq", l2);
		loop_body(l2, l1);
		jump("jra", l1);
		def_label(l2);
	} else if (tok == K_DO) {
		int c = new_label();
		next();
		l1 = new_label();
		l2 = new_label();
		def_label(l1);
		loop_body(l2, c);
		expect(K_WHILE, "while after do");
		def_label(c);
		paren_condition();
		jump("jne", l1);
		def_label(l2);
		expect(';', "';' after do ... while");
	} else if (tok == K_FOR) {
		for_stmt();
	} else if (tok == K_SWITCH) {
		switch_stmt();
	} else if (tok == K_CASE || tok == K_DEFAULT) {
		int is_case = tok == K_CASE;
		struct Case *c;
		if (!inswitch)
			error("case or default outside a switch");
		next();
		l1 = new_label();
		if (is_case) {
			c = alloc(sizeof(struct Case));
			c->value = const_expr();
			c->label = l1;
			c->next = cases;
			cases = c;
		} else {
			if (deflabel)
				error("two defaults in a switch");
			deflabel = l1;
		}
		expect(':', "':' after a case");
		def_label(l1);
		if (tok != '}')
			stmt();
	} else if (tok == K_BREAK) {
		next();
		if (!brk)
			error("break outside a loop or switch");
		jump("jra", brk);
		expect(';', "';' after break");
	} else if (tok == K_CONTINUE) {
		next();
		if (!cont)
			error("continue outside a loop");
		jump("jra", cont);
		expect(';', "';' after continue");
	} else if (tok == K_RETURN) {
		next();
		if (tok != ';') {
			struct Type *t = rvalue(expr());
			if (rettype->kind == TY_VOID)
				error("a void function returns no value");
			convert(rettype);
			if (t->kind == TY_STRUCT)
				error("returning a struct is not supported");
			if (rettype->kind == TY_PTR)
				ins("move.l %d0,%a0");
		}
		jump("jra", retlabel);
		expect(';', "';' after return");
	} else if (tok == K_GOTO) {
		error("goto is not supported");
	} else if (accept(';')) {
		return;
	} else {
		rvalue(expr());
		expect(';', "';' after an expression");
	}
}

void function_body(struct Sym *fn, struct Name **pnames, struct Type **ptypes, int nparams)
{
	struct Buf body;
	int i;
	int obrk = brk;
	int ocont = cont;
	buf_init(&body);
	locals = 0;
	frame = 0;
	brk = 0;
	cont = 0;
	inswitch = 0;
	for (i = 0; i < nparams; i++) {
		int size = ptypes[i]->size;
		if (!pnames[i])
			error("a parameter needs a name");
		new_local(pnames[i], ptypes[i], 8 + 4 * i + 4 - size);
	}
	retlabel = new_label();
	rettype = fn->type->base;
	if (rettype->kind == TY_STRUCT || rettype->kind == TY_ARRAY)
		error2("functions return scalars only", fn->name->text);
	out_to(&body);
	compound();
	out_file();
	out("\t.text\n\t.balign\t2\n");
	label_global(fn);
	if (frame <= 32767)
		ins_n("link.w %fp,#", -frame, "");
	else {
		ins("link.w %fp,#0");
		ins_n("sub.l #", frame, ",%sp");
	}
	buf_emit(&body);
	def_label(retlabel);
	ins("unlk %fp");
	ins("rts");
	out_file();
	locals = 0;
	brk = obrk;
	cont = ocont;
}
