/* tc.c: a toy compiler and interpreter in the manner of c4, written for vcluster's tests.
 *
 * Written for this project (not derived from c4): it uses the constructs c4
 * does, so that a program like c4 is known to run unchanged on the guest:
 * `#define int long long` with `int main(int argc, char **argv)`, four 256 KB
 * pools from malloc plus one for the source, the source read with
 * open(*argv, 0) and one read(fd, p, poolsz - 1), a one-pass compiler to a
 * stack machine and a loop that runs it, counting cycles.
 *
 *   tc [-s] FILE.t [ARGS...]     compile FILE.t and run it with ARGS
 *
 * The language: integer variables (global, created by use), numbers, 'c'
 * characters, "strings" (their address), + - * / % < > <= >= == != && || !
 * unary -, assignment, if/else, while, { }, and the calls
 *   print(x) puts(s) putc(c) argc() arg(i) open(name) getc(fd) close(fd) exit(x)
 * (print writes x and a newline; open gives -1 when the file is not there;
 * getc gives -1 at the end). At the end: `exit(X) cycle = N`. -s prints the
 * compiled code's size first. Output never depends on addresses or time.
 */
#include <fcntl.h>
#include <memory.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define int long long

#define P2I(p) ((int)(long)(p))
#define I2P(t, x) ((t)(long)(x))

enum { Num = 128, Id, Str, If, Else, While, Le, Ge, Eq, Ne, And, Or };
enum { IMM, LD, ST, ADD, SUB, MUL, DIV, MOD, LT, GT, LE, GE, EQ, NE, NOT, NEG, JMP, JZ, JNZ,
       POP, DUP, CALL, HALT };
enum { PRINT, PUTS, PUTC, ARGC, ARG, OPEN, GETC, CLOSE, EXIT, NCALLS };

static char *p, *lp;       /* the source, where the scanner is */
static int tk, ival, line; /* the current token, its value, the line */
static int *e, *le;        /* emitted code */
static int *vars;          /* variable values */
static char *data;         /* string literals */
static char **names;       /* variable and call names (in the symbol pool) */
static int nnames;
static int poolsz;
static const char *calls[NCALLS] = { "print", "puts", "putc", "argc", "arg",
                                     "open", "getc", "close", "exit" };

static void fail(const char *what)
{
    printf("%lld: %s\n", line, what);
    exit(1);
}

static int lookup(char *s, int n)
{
    int i;
    for (i = 0; i < nnames; i++)
        if (!memcmp(names[i], s, (size_t)n) && names[i][n] == 0)
            return i;
    names[nnames] = data;
    memcpy(data, s, (size_t)n);
    data[n] = 0;
    data += n + 1;
    return nnames++;
}

static void next(void)
{
    char *s;
    while ((tk = *p)) {
        ++p;
        if (tk == '\n')
            ++line;
        else if (tk == '#')
            while (*p && *p != '\n')
                ++p;
        else if ((tk >= 'a' && tk <= 'z') || (tk >= 'A' && tk <= 'Z') || tk == '_') {
            s = p - 1;
            while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '_')
                ++p;
            if (p - s == 2 && !memcmp(s, "if", 2))
                tk = If;
            else if (p - s == 4 && !memcmp(s, "else", 4))
                tk = Else;
            else if (p - s == 5 && !memcmp(s, "while", 5))
                tk = While;
            else {
                ival = lookup(s, p - s);
                tk = Id;
            }
            return;
        } else if (tk >= '0' && tk <= '9') {
            ival = tk - '0';
            while (*p >= '0' && *p <= '9')
                ival = ival * 10 + *p++ - '0';
            tk = Num;
            return;
        } else if (tk == '\'') {
            ival = *p++;
            if (ival == '\\')
                ival = *p++ == 'n' ? '\n' : p[-1];
            if (*p++ != '\'')
                fail("bad character constant");
            tk = Num;
            return;
        } else if (tk == '"') {
            ival = P2I(data);
            while (*p && *p != '"') {
                int c = *p++;
                if (c == '\\')
                    c = *p++ == 'n' ? '\n' : p[-1];
                *data++ = (char)c;
            }
            *data++ = 0;
            if (*p++ != '"')
                fail("unterminated string");
            tk = Str;
            return;
        } else if (tk == '=' || tk == '<' || tk == '>' || tk == '!') {
            if (*p == '=') {
                ++p;
                tk = tk == '=' ? Eq : tk == '<' ? Le : tk == '>' ? Ge : Ne;
            }
            return;
        } else if (tk == '&' && *p == '&') {
            ++p;
            tk = And;
            return;
        } else if (tk == '|' && *p == '|') {
            ++p;
            tk = Or;
            return;
        } else if (tk != ' ' && tk != '\t' && tk != '\r')
            return;
    }
}

static void expect(int t, const char *what)
{
    if (tk != t)
        fail(what);
    next();
}

/* precedence climbing: 1 || 2 && 3 == != 4 < > <= >= 5 + - 6 * / % */
static int prec(int t)
{
    return t == Or ? 1 : t == And ? 2 : t == Eq || t == Ne ? 3
         : t == '<' || t == '>' || t == Le || t == Ge ? 4 : t == '+' || t == '-' ? 5
         : t == '*' || t == '/' || t == '%' ? 6 : 0;
}

static void expr(int level);

static void primary(void)
{
    int id, i;
    if (tk == Num || tk == Str) {
        *++e = IMM;
        *++e = ival;
        next();
    } else if (tk == '(') {
        next();
        expr(1);
        expect(')', "')' expected");
    } else if (tk == '-') {
        next();
        primary();
        *++e = NEG;
    } else if (tk == '!') {
        next();
        primary();
        *++e = NOT;
    } else if (tk == Id) {
        id = ival;
        next();
        if (tk == '(') {
            for (i = 0; i < NCALLS && strcmp(names[id], calls[i]); i++)
                ;
            if (i == NCALLS)
                fail("unknown call");
            next();
            if (tk != ')')
                expr(1);
            else {
                *++e = IMM;
                *++e = 0;
            }
            expect(')', "')' expected");
            *++e = CALL;
            *++e = i;
        } else if (tk == '=') {
            next();
            expr(1);
            *++e = DUP;
            *++e = ST;
            *++e = id;
        } else {
            *++e = LD;
            *++e = id;
        }
    } else
        fail("bad expression");
}

static void expr(int level)
{
    int op, q, *b = 0;
    primary();
    while ((q = prec(tk)) >= level) {
        op = tk;
        next();
        if (op == And || op == Or) { /* short-circuit: keep the left value as the result */
            *++e = DUP;
            *++e = op == And ? JZ : JNZ;
            b = ++e;
            *++e = POP;
            expr(q + 1);
            *b = P2I(e + 1);
            *++e = NOT; /* normalise to 0/1 */
            *++e = NOT;
            continue;
        }
        expr(q + 1);
        *++e = op == '+' ? ADD : op == '-' ? SUB : op == '*' ? MUL : op == '/' ? DIV
             : op == '%' ? MOD : op == '<' ? LT : op == '>' ? GT : op == Le ? LE
             : op == Ge ? GE : op == Eq ? EQ : NE;
    }
}

static void stmt(void)
{
    int *a, *b;
    if (tk == If) {
        next();
        expect('(', "'(' expected");
        expr(1);
        expect(')', "')' expected");
        *++e = JZ;
        b = ++e;
        stmt();
        if (tk == Else) {
            *b = P2I(e + 3);
            *++e = JMP;
            b = ++e;
            next();
            stmt();
        }
        *b = P2I(e + 1);
    } else if (tk == While) {
        next();
        a = e + 1;
        expect('(', "'(' expected");
        expr(1);
        expect(')', "')' expected");
        *++e = JZ;
        b = ++e;
        stmt();
        *++e = JMP;
        *++e = P2I(a);
        *b = P2I(e + 1);
    } else if (tk == '{') {
        next();
        while (tk && tk != '}')
            stmt();
        expect('}', "'}' expected");
    } else if (tk == ';') {
        next();
    } else {
        expr(1);
        *++e = POP;
        expect(';', "';' expected");
    }
}

#define NFD 8
static struct inbuf {
    int fd, n, at;
    char buf[512];
} in[NFD];

static int t_open(char *name)
{
    int i, fd;
    for (i = 0; i < NFD && in[i].fd > 0; i++)
        ;
    if (i == NFD || (fd = open(name, 0)) < 0)
        return -1;
    in[i].fd = fd;
    in[i].n = in[i].at = 0;
    return fd;
}

static int t_getc(int fd)
{
    int i;
    for (i = 0; i < NFD && in[i].fd != fd; i++)
        ;
    if (i == NFD || fd <= 0)
        return -1;
    if (in[i].at == in[i].n) {
        in[i].n = read(fd, in[i].buf, sizeof in[i].buf);
        in[i].at = 0;
        if (in[i].n <= 0) {
            in[i].n = 0;
            return -1;
        }
    }
    return (unsigned char)in[i].buf[in[i].at++];
}

static int t_close(int fd)
{
    int i;
    for (i = 0; i < NFD && in[i].fd != fd; i++)
        ;
    if (i == NFD || fd <= 0)
        return -1;
    in[i].fd = 0;
    return close(fd);
}

int main(int argc, char **argv)
{
    int fd, i, a, *pc, *sp, cycle, src = 0;
    char **args;

    --argc;
    ++argv;
    if (argc > 0 && **argv == '-' && (*argv)[1] == 's') {
        src = 1;
        --argc;
        ++argv;
    }
    if (argc < 1) {
        printf("usage: tc [-s] file ...\n");
        return 2;
    }
    if ((fd = open(*argv, 0)) < 0) {
        printf("could not open(%s)\n", *argv);
        return 1;
    }
    poolsz = 256 * 1024;
    if (!(names = malloc(poolsz))) {
        printf("could not malloc(%lld) symbol area\n", poolsz);
        return 1;
    }
    if (!(le = e = malloc(poolsz))) {
        printf("could not malloc(%lld) text area\n", poolsz);
        return 1;
    }
    if (!(data = malloc(poolsz))) {
        printf("could not malloc(%lld) data area\n", poolsz);
        return 1;
    }
    if (!(sp = malloc(poolsz))) {
        printf("could not malloc(%lld) stack area\n", poolsz);
        return 1;
    }
    memset(names, 0, poolsz);
    memset(e, 0, poolsz);
    memset(data, 0, poolsz);
    vars = sp;
    if (!(lp = p = malloc(poolsz))) {
        printf("could not malloc(%lld) source area\n", poolsz);
        return 1;
    }
    if ((i = read(fd, p, poolsz - 1)) <= 0) {
        printf("read() returned %lld\n", i);
        return 1;
    }
    p[i] = 0;
    close(fd);

    line = 1;
    next();
    while (tk)
        stmt();
    *++e = IMM;
    *++e = 0;
    *++e = CALL;
    *++e = EXIT;
    if (src)
        printf("%lld words of code, %lld names\n", (int)(e - le), nnames);

    /* the variables at the bottom of the stack pool, the stack above them */
    sp = vars + poolsz / sizeof(int);
    for (i = 0; i < nnames; i++)
        vars[i] = 0;
    args = argv;
    pc = le + 1;
    cycle = 0;
    for (;;) {
        i = *pc++;
        ++cycle;
        switch ((long)i) {
        case IMM: *--sp = *pc++; break;
        case LD: *--sp = vars[*pc++]; break;
        case ST: vars[*pc++] = *sp++; break;
        case DUP: a = *sp; *--sp = a; break;
        case POP: ++sp; break;
        case JMP: pc = I2P(int *, *pc); break;
        case JZ: pc = *sp++ ? pc + 1 : I2P(int *, *pc); break;
        case JNZ: pc = *sp++ ? I2P(int *, *pc) : pc + 1; break;
        case NOT: *sp = !*sp; break;
        case NEG: *sp = -*sp; break;
        case CALL:
            a = *sp;
            switch ((long)*pc++) {
            case PRINT: printf("%lld\n", a); break;
            case PUTS: a = printf("%s", I2P(char *, a)); break;
            case PUTC: putchar((char)a); break;
            case ARGC: a = argc - 1; break;
            case ARG: a = a >= 0 && a < argc ? P2I(args[a]) : P2I(""); break;
            case OPEN: a = t_open(I2P(char *, a)); break;
            case GETC: a = t_getc(a); break;
            case CLOSE: a = t_close(a); break;
            case EXIT:
                fflush(stdout);
                printf("exit(%lld) cycle = %lld\n", a, cycle);
                return a;
            }
            *sp = a;
            break;
        default: {
            int b = *sp++;
            a = *sp;
            if ((i == DIV || i == MOD) && b == 0) {
                printf("division by zero at cycle %lld\n", cycle);
                return 1;
            }
            *sp = i == ADD ? a + b : i == SUB ? a - b : i == MUL ? a * b : i == DIV ? a / b
                : i == MOD ? a % b : i == LT ? a < b : i == GT ? a > b : i == LE ? a <= b
                : i == GE ? a >= b : i == EQ ? a == b : a != b;
        }
        }
        if (sp <= vars + nnames) {
            printf("stack overflow\n");
            return 1;
        }
    }
}
