/* vcc.h: what vcc's modules share (vcc is the project's own small C compiler).
 *
 * vcc is part of vcluster, written for it: a one-pass compiler for a subset
 * of C (char, short, int, unsigned, pointers, arrays, structs and unions,
 * enum, typedef; functions; the statements and operators of C; string
 * literals, globals with constant initializers; #include "file", #define
 * NAME TEXT and #ifdef/#ifndef/#else/#endif) that writes 68000 assembly for
 * GNU as.  It is
 * written in that subset, so it compiles itself, and in portable C: built by
 * any hosted compiler (the host's gcc, or the guest's m68k gcc) it writes the
 * same bytes for the same input.
 *
 * Written for vcluster and distributed with it on the same terms; no code
 * in guest/src/vcc comes from another compiler.
 */

#ifndef __VCC__
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#else
/* vcc reads no system headers: the C library it calls, declared here */
void *fopen(char *name, char *mode);
int fclose(void *f);
int fread(void *p, int size, int n, void *f);
int fwrite(void *p, int size, int n, void *f);
int write(int fd, char *buf, int n);
int open(char *path, int flags);
int read(int fd, char *buf, int n);
int close(int fd);
void *malloc(int n);
void *realloc(void *p, int n);
void free(void *p);
int strcmp(char *a, char *b);
int memcmp(void *a, void *b, int n);
int strlen(char *s);
void *memcpy(void *dst, void *src, int n);
void *memset(void *dst, int c, int n);
void exit(int status);
#endif

/* tokens: a character stands for itself; these are the rest */
#define T_EOF 256
#define T_NUM 257
#define T_STR 258
#define T_IDENT 259
#define T_ARROW 260
#define T_INC 261
#define T_DEC 262
#define T_SHL 263
#define T_SHR 264
#define T_LE 265
#define T_GE 266
#define T_EQ 267
#define T_NE 268
#define T_ANDAND 269
#define T_OROR 270
#define T_ADDEQ 271
#define T_SUBEQ 272
#define T_MULEQ 273
#define T_DIVEQ 274
#define T_MODEQ 275
#define T_ANDEQ 276
#define T_OREQ 277
#define T_XOREQ 278
#define T_SHLEQ 279
#define T_SHREQ 280
#define T_ELLIPSIS 281
/* keywords: T_KW + their index in kwnames */
#define T_KW 300
#define K_INT 300
#define K_CHAR 301
#define K_SHORT 302
#define K_LONG 303
#define K_UNSIGNED 304
#define K_SIGNED 305
#define K_VOID 306
#define K_STRUCT 307
#define K_UNION 308
#define K_IF 309
#define K_ELSE 310
#define K_WHILE 311
#define K_FOR 312
#define K_DO 313
#define K_RETURN 314
#define K_BREAK 315
#define K_CONTINUE 316
#define K_SWITCH 317
#define K_CASE 318
#define K_DEFAULT 319
#define K_SIZEOF 320
#define K_STATIC 321
#define K_EXTERN 322
#define K_CONST 323
#define K_VOLATILE 324
#define K_REGISTER 325
#define K_AUTO 326
#define K_TYPEDEF 327
#define K_ENUM 328
#define K_GOTO 329
#define NKW 30

/* types */
#define TY_VOID 0
#define TY_CHAR 1
#define TY_SHORT 2
#define TY_INT 3
#define TY_PTR 4
#define TY_ARRAY 5
#define TY_STRUCT 6
#define TY_FUNC 7

struct Member {
	struct Name *name;
	struct Type *type;
	int offset;
	struct Member *next;
};

struct Type {
	int kind;
	int size;
	int align;
	int uns;		/* unsigned char, short or int */
	int len;		/* an array's elements (-1: not known yet) */
	struct Type *base;	/* what a pointer points to, an array's element, a function's result */
	struct Member *members;	/* a struct's or union's, in order */
	int complete;		/* a struct whose members are known */
	int isunion;
	struct Type *ptr;	/* the pointer to this type, once made */
};

/* an identifier, interned: every spelling has one Name */
struct Name {
	char *text;
	int len;
	int kw;			/* its keyword token, or 0 */
	char *macro;		/* its #define text, or 0 */
	struct Sym *global;	/* the global of this name, or 0 */
	struct Type *tag;	/* struct/union NAME, or 0 */
	struct Type *tdef;	/* the type this name is a typedef of, or 0 */
	int isenum;		/* an enumeration constant, of value enumval */
	int enumval;
	struct Name *next;	/* in its hash bucket */
};

#define S_GLOBAL 1
#define S_LOCAL 2
#define S_FUNC 3

struct Sym {
	struct Name *name;
	struct Type *type;
	int kind;
	int offset;		/* a local's, from %fp */
	int defined;		/* a global's storage or a function's body was written */
	int isstatic;
	struct Sym *next;	/* the enclosing locals */
};

/* an output text that grows */
struct Buf {
	char *data;
	int len;
	int cap;
};

struct Src {
	char *buf;
	int pos;
	char *name;
	int line;
	int macro;
	struct Src *prev;
};

/* lex.c, util.c, cpp.c */
extern struct Src *src;
extern int bol;
extern int nconds;
int nextc(void);
int peekc(void);
int is_space(int c);
int is_digit(int c);
int is_alpha(int c);
int is_alnum(int c);
void push_src(char *buf, char *name, int macro);
void define(char *name, char *text);
void directive(void);
extern int tok;
extern int tokval;
extern int tokuns;
extern char *tokstr;
extern int toklen;
extern struct Name *tokname;
extern char *curfile;
extern int curline;
void lex_open(char *path);
void next(void);
int peek(void);
struct Name *peek_name(void);
void expect(int t, char *what);
int accept(int t);
struct Name *intern(char *s, int len);
char *read_file(char *path, int *len);
void error(char *msg);
void put(int fd, char *s);
void putnum(int fd, int n);
void error2(char *msg, char *what);
char *dupstr(char *s, int len);
void *alloc(int n);

/* decl.c */
extern struct Type *ty_void;
extern struct Type *ty_char;
extern struct Type *ty_int;
struct Type *ptr_to(struct Type *base);
struct Type *array_of(struct Type *base, int len);
int is_type_start(int t);
int is_type_name(int t, struct Name *n);
struct Type *declspec(int *sclass);
struct Type *declarator(struct Type *base, struct Name **name);
struct Type *abstract_type(void);
void toplevel(void);
void declaration(int local);
int is_ptr(struct Type *t);
int is_scalar(struct Type *t);

/* init.c */
void align_data(struct Type *t);
void label_global(struct Sym *s);
void data_zero(int n);
void global_init(struct Sym *s);

/* sum.c */
int sum_files(char *outname, char **files, int n);

/* stmt.c */
extern struct Sym *locals;
extern int frame;
void function_body(struct Sym *fn, struct Name **pnames, struct Type **ptypes, int nparams);
struct Sym *find_var(struct Name *n);
void local_var(struct Name *name, struct Type *t);

/* expr.c */
struct Type *expr(void);
struct Type *assign(void);
struct Type *rvalue(struct Type *t);
int prec(int t);

/* ops.c */
int size_suffix(struct Type *t);
int elem_size(struct Type *t);
struct Type *arith_type(struct Type *a, struct Type *b);
struct Type *binop(int op, struct Type *lt, struct Type *rt);

/* cexpr.c */
int const_expr(void);
void load(struct Type *t);
void store(struct Type *t);
void convert(struct Type *t);

/* gen.c */
extern struct Buf *code;
extern int suppress;
extern int labels;
void out(char *s);
void outn(int n);
void outc(int c);
void outlabel(int l);
void ins(char *s);
void ins_n(char *a, int n, char *b);
void ins_l(char *a, int l);
void def_label(int l);
int new_label(void);
void jump(char *op, int l);
int string_literal(char *s, int len);
void buf_add(struct Buf *b, char *s, int n);
void buf_init(struct Buf *b);
void buf_emit(struct Buf *b);
void out_open(char *path);
void out_flush(void);
void out_close(void);
void out_to(struct Buf *b);
void out_file(void);
void push(void);
void pop(char *reg);
void li(int n);
void add_const(int n);
void scale(int size);
