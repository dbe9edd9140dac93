/* stdlib.h: the guest runtime's subset. */
#ifndef _STDLIB_H
#define _STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1
#define RAND_MAX 0x7fff

void *malloc(size_t n);
void free(void *p);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t n);

void exit(int status) __attribute__((noreturn));
void _exit(int status) __attribute__((noreturn));
void abort(void) __attribute__((noreturn));
int atexit(void (*fn)(void));

long strtol(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
int atoi(const char *s);
long atol(const char *s);
/* "2", "0.5", "1.25" -> milliseconds (at most three decimals count); -1 if malformed or if the
   whole seconds exceed max_seconds. */
long parse_seconds_ms(const char *s, long max_seconds);
int abs(int x);
long labs(long x);

int rand(void);
void srand(unsigned int seed);
void qsort(void *base, size_t count, size_t size, int (*cmp)(const void *, const void *));

extern char **environ;
char *getenv(const char *name);

#endif
