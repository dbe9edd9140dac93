/* decl.c: vcc's types and declarations, and the globals they define (part of vcluster's own compiler, vcc).
 *
 * Sizes and alignments are the m68k's (gcc's m68k ABI): char 1, short 2,
 * int, long and pointers 4, aligned to 2 bytes at most.  A global's storage
 * is written where it is defined: .data with its initializer, .bss without.
 */
#include "vcc.h"

static struct Type t_void;
static struct Type t_char;
static struct Type t_int;
struct Type *ty_void;
struct Type *ty_char;
struct Type *ty_int;

static struct Name *pnames[32];
static struct Type *ptypes[32];
static int nparams;

static struct Type *new_type(int kind, int size, int align)
{
	struct Type *t = alloc(sizeof(struct Type));
	t->kind = kind;
	t->size = size;
	t->align = align;
	return t;
}

static void init_types(void)
{
	ty_void = &t_void;
	ty_char = &t_char;
	ty_int = &t_int;
	t_void.kind = TY_VOID;
	t_void.size = 1;
	t_void.align = 1;
	t_char.kind = TY_CHAR;
	t_char.size = 1;
	t_char.align = 1;
	t_int.kind = TY_INT;
	t_int.size = 4;
	t_int.align = 2;
}

struct Type *ptr_to(struct Type *base)
{
	struct Type *t = base->ptr;
	if (t)
		return t;
	t = new_type(TY_PTR, 4, 2);
	t->base = base;
	t->uns = 1;
	base->ptr = t;
	return t;
}

struct Type *array_of(struct Type *base, int len)
{
	struct Type *t = new_type(TY_ARRAY, 0, base->align);
	t->base = base;
	t->len = len;
	if (len > 0 && base->size > 2147483647 / len)
		error("array too large");
	if (len > 0)
		t->size = base->size * len;
	return t;
}

int is_ptr(struct Type *t)
{
	return t->kind == TY_PTR || t->kind == TY_ARRAY;
}

int is_scalar(struct Type *t)
{
	return t->kind == TY_CHAR || t->kind == TY_SHORT || t->kind == TY_INT || t->kind == TY_PTR;
}

int is_type_start(int t)
{
	return t == K_INT || t == K_CHAR || t == K_SHORT || t == K_LONG || t == K_UNSIGNED || t == K_SIGNED
	    || t == K_VOID || t == K_STRUCT || t == K_UNION || t == K_STATIC || t == K_EXTERN
	    || t == K_CONST || t == K_VOLATILE || t == K_REGISTER || t == K_AUTO || t == K_TYPEDEF
	    || t == K_ENUM;
}

/* a type's first token: a keyword, or a typedef's name */
int is_type_name(int t, struct Name *n)
{
	return is_type_start(t) || (t == T_IDENT && n && n->tdef);
}

/* enum [TAG] [{ NAME [= CONSTANT], ... }]: the names are int constants; the type is int */
static void enum_decl(void)
{
	int v = 0;
	next();
	if (tok == T_IDENT)
		next();
	if (!accept('{'))
		return;
	while (!accept('}')) {
		struct Name *n;
		if (tok != T_IDENT)
			error("expected an enumeration constant");
		n = tokname;
		next();
		if (accept('='))
			v = const_expr();
		if (n->global || n->tdef)
			error2("enumeration constant declared twice", n->text);
		n->isenum = 1;
		n->enumval = v;
		if (v == 2147483647)
			error("enumeration constant too large");
		v++;
		if (tok != '}')
			expect(',', "',' between enumeration constants");
	}
}

static struct Type *struct_decl(int isunion)
{
	struct Name *tag = 0;
	struct Type *t = 0;
	struct Member *last = 0;
	int offset = 0;
	next();
	if (tok == T_IDENT) {
		tag = tokname;
		t = tag->tag;
		next();
	}
	if (!t) {
		t = new_type(TY_STRUCT, 0, 1);
		t->isunion = isunion;
		if (tag)
			tag->tag = t;
	}
	if (t->isunion != isunion)
		error2("struct and union of one tag", tag->text);
	if (!accept('{'))
		return t;
	if (t->complete)
		error2("struct defined twice", tag ? tag->text : "");
	while (!accept('}')) {
		int sclass;
		struct Type *base = declspec(&sclass);
		while (1) {
			struct Name *name = 0;
			struct Type *mt = declarator(base, &name);
			struct Member *m = alloc(sizeof(struct Member));
			if (!name)
				error("a member needs a name");
			if (mt->size <= 0 || mt->kind == TY_FUNC)
				error2("member of no size", name->text);
			m->name = name;
			m->type = mt;
			if (!isunion) {
				offset = (offset + mt->align - 1) / mt->align * mt->align;
				m->offset = offset;
				offset = offset + mt->size;
			} else if (mt->size > offset)
				offset = mt->size;
			if (mt->align > t->align)
				t->align = mt->align;
			if (last)
				last->next = m;
			else
				t->members = m;
			last = m;
			if (!accept(','))
				break;
		}
		expect(';', "';' after a member");
	}
	t->size = (offset + t->align - 1) / t->align * t->align;
	if (t->size == 0)
		error("empty struct");
	t->complete = 1;
	return t;
}

/* storage class and base type: static, extern, int, unsigned char, struct S, ... */
struct Type *declspec(int *sclass)
{
	int uns = 0;
	int sgn = 0;
	int kind = -1;
	struct Type *t = 0;
	*sclass = 0;
	while (1) {
		if (tok == K_STATIC || tok == K_EXTERN) {
			*sclass = tok;
			next();
		} else if (tok == K_CONST || tok == K_VOLATILE || tok == K_REGISTER || tok == K_AUTO)
			next();
		else if (tok == K_TYPEDEF) {
			*sclass = tok;
			next();
		} else if (tok == K_ENUM) {
			enum_decl();
			kind = TY_INT;
		} else if (tok == T_IDENT && tokname->tdef && kind == -1 && !t && !uns && !sgn) {
			t = tokname->tdef;
			next();
		} else if (tok == K_UNSIGNED) {
			uns = 1;
			next();
		} else if (tok == K_SIGNED) {
			sgn = 1;
			next();
		} else if (tok == K_CHAR || tok == K_SHORT || tok == K_INT || tok == K_LONG || tok == K_VOID) {
			if (tok == K_CHAR)
				kind = TY_CHAR;
			else if (tok == K_SHORT)
				kind = TY_SHORT;
			else if (tok == K_VOID)
				kind = TY_VOID;
			else if (kind != TY_SHORT && kind != TY_CHAR)
				kind = TY_INT;	/* int, long, long int, short int */
			next();
		} else if (tok == K_STRUCT || tok == K_UNION) {
			t = struct_decl(tok == K_UNION);
		} else
			break;
	}
	if (t)
		return t;
	if (kind == -1) {
		if (!uns && !sgn)
			error("expected a type");
		kind = TY_INT;
	}
	if (kind == TY_VOID)
		return ty_void;
	if (kind == TY_CHAR && !uns)
		return ty_char;
	if (kind == TY_INT && !uns)
		return ty_int;
	if (kind == TY_CHAR)
		t = new_type(TY_CHAR, 1, 1);
	else if (kind == TY_SHORT)
		t = new_type(TY_SHORT, 2, 2);
	else
		t = new_type(TY_INT, 4, 2);
	t->uns = uns;
	return t;
}

static void params(void)
{
	nparams = 0;
	if (tok == K_VOID && peek() == ')') {
		next();
		next();
		return;
	}
	while (!accept(')')) {
		int sclass;
		struct Type *t;
		struct Name *name = 0;
		if (tok == T_ELLIPSIS) {
			next();
			expect(')', "')' after '...'");
			return;
		}
		t = declarator(declspec(&sclass), &name);
		if (t->kind == TY_ARRAY)
			t = ptr_to(t->base);
		if (t->kind == TY_STRUCT)
			error("struct parameters are not supported");
		if (nparams == 32)
			error("too many parameters");
		pnames[nparams] = name;
		ptypes[nparams] = t;
		nparams++;
		if (tok != ')')
			expect(',', "',' between parameters");
	}
}

static struct Type *suffix(struct Type *t)
{
	int len = -1;
	if (accept('[')) {
		if (tok != ']')
			len = const_expr();
		expect(']', "']'");
		if (len == 0)
			error("array of no elements");
		t = suffix(t);
		if (t->size <= 0)
			error("array of an incomplete type");
		return array_of(t, len);
	}
	if (accept('(')) {
		struct Type *f = new_type(TY_FUNC, 1, 1);
		f->base = t;
		params();
		return f;
	}
	return t;
}

/* pointers, the name (if any) and the array or function suffixes */
struct Type *declarator(struct Type *base, struct Name **name)
{
	while (accept('*')) {
		base = ptr_to(base);
		while (tok == K_CONST || tok == K_VOLATILE)
			next();
	}
	if (tok == '(')
		error("pointers to functions are not supported");
	if (tok == T_IDENT) {
		*name = tokname;
		next();
	}
	return suffix(base);
}

/* a type name: in casts and sizeof */
struct Type *abstract_type(void)
{
	int sclass;
	struct Type *t = declspec(&sclass);
	while (accept('*'))
		t = ptr_to(t);
	if (tok == '[')
		t = suffix(t);
	return t;
}

static void typedef_name(struct Name *name, struct Type *t)
{
	if (name->tdef && name->tdef != t)
		error2("typedef declared twice", name->text);
	if (name->global || name->isenum)
		error2("typedef of a name in use", name->text);
	name->tdef = t;
}

static struct Sym *global_sym(struct Name *name, struct Type *t, int sclass)
{
	struct Sym *s = name->global;
	if (s) {
		if (s->type->kind != t->kind)
			error2("declared twice with different types", name->text);
		if (t->kind == TY_ARRAY && s->type->len < 0)
			s->type = t;
		return s;
	}
	s = alloc(sizeof(struct Sym));
	s->name = name;
	s->type = t;
	s->kind = t->kind == TY_FUNC ? S_FUNC : S_GLOBAL;
	s->isstatic = sclass == K_STATIC;
	name->global = s;
	return s;
}

/* one declarator's global, its storage written where it is defined; 1: it was a function's
 * definition (its body compiled), which ends the declaration */
static int global_decl(struct Name *name, struct Type *t, int sclass)
{
	struct Sym *s = global_sym(name, t, sclass);
	if (t->kind == TY_FUNC) {
		if (tok == '{') {
			if (s->defined)
				error2("function defined twice", name->text);
			s->defined = 1;
			if (sclass == K_STATIC)
				s->isstatic = 1;
			s->type = t;
			function_body(s, pnames, ptypes, nparams);
			return 1;
		}
	} else if (accept('=')) {
		if (s->defined)
			error2("defined twice", name->text);
		s->defined = 1;
		global_init(s);
		out_file();
	} else if (sclass != K_EXTERN && !s->defined) {
		if (t->size <= 0)
			error2("storage of unknown size", name->text);
		s->defined = 1;
		out("\t.bss\n");
		align_data(t);
		label_global(s);
		data_zero(t->size);
		out_file();
	}
	return 0;
}

/* a declaration: its base type, then declarators between commas, each a typedef (file scope,
 * vcc's only scope for types), a local variable (`local`: in a function's body) or a global or
 * a function's definition (at the top level) */
void declaration(int local)
{
	int sclass;
	struct Type *base = declspec(&sclass);
	if (local && sclass && sclass != K_TYPEDEF)
		error("static and extern locals are not supported");
	if (accept(';'))
		return;		/* struct S { ... }; */
	while (1) {
		struct Name *name = 0;
		struct Type *t = declarator(base, &name);
		if (!name)
			error("a declaration needs a name");
		if (sclass == K_TYPEDEF)
			typedef_name(name, t);
		else if (local)
			local_var(name, t);
		else if (global_decl(name, t, sclass))
			return;
		if (!accept(','))
			break;
	}
	expect(';', "';' after a declaration");
}

void toplevel(void)
{
	init_types();
	next();
	while (tok != T_EOF)
		declaration(0);
}
