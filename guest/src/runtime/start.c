/* start.c: hosted start-up for programs on newlib: argv, envp, constructors, main's status.
 *
 * main's own types: `#define int long long` (c4 does it) turns `int main(int argc, char **argv)`
 * into `long long main(long long argc, char **argv)`. On this ABI arguments are passed on the
 * stack and a long long takes two slots, so a main called with an int argc would find argv in
 * the low half of its argc and fault at once; and a long long result comes back in d0:d1 (d0 the
 * high half), so an exit status taken from d0 alone would be 0. guest/hosted.py reads main's type
 * from gcc (-aux-info) and compiles this file with VMAIN_ARGC the type of main's first parameter
 * and VMAIN_RESULT its result type (VMAIN_VOID for `void main`: the status is then 0); an int main
 * gets the defaults. docs/ABI.md, "main's type".
 */
#include <stdlib.h>
#include <v.h>

#ifndef VMAIN_ARGC
#define VMAIN_ARGC int
#endif
#ifndef VMAIN_RESULT
#define VMAIN_RESULT int
#endif

#ifdef VMAIN_VOID
extern void main(VMAIN_ARGC argc, char **argv, char **envp);
#else
extern VMAIN_RESULT main(VMAIN_ARGC argc, char **argv, char **envp);
#endif
extern void __libc_init_array(void);
extern char **environ;

/* Called by crt0's _start with the entry stack as its arguments (docs/ABI.md, "Entry").
 * main's return value is the exit status; exit() flushes stdio and runs atexit. */
void __vstart(int argc, char **argv, char **envp, struct venv *venv)
    __attribute__((noreturn, used));
void __vstart(int argc, char **argv, char **envp, struct venv *venv)
{
    unsigned long v = (unsigned long)venv;

    if (v >= TEXT_BASE && v <= ADDRESS_SPACE - VENV_SIZE && (v & 1) == 0 &&
        venv->magic == VENV_MAGIC)
        _venv = venv;
    environ = envp;
    __libc_init_array();
#ifdef VMAIN_VOID
    main((VMAIN_ARGC)argc, argv, envp);
    exit(0);
#else
    /* the status is the result's low 32 bits, as a Unix exit takes an int */
    exit((int)main((VMAIN_ARGC)argc, argv, envp));
#endif
}
