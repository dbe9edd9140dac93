/* start.c: hosted start-up for programs on newlib: argv, envp, constructors, main's status. */
#include <stdlib.h>
#include <v.h>

extern int main(int argc, char **argv, char **envp);
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
    exit(main(argc, argv, envp));
}
