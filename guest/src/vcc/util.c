/* util.c: vcc's errors, memory and file reading (part of vcluster's own compiler, vcc). */
#include "vcc.h"

void put(int fd, char *s)
{
	write(fd, s, strlen(s));
}

void putnum(int fd, int n)
{
	char b[16];
	int i = 15;
	b[i] = 0;
	if (n == 0)
		b[--i] = '0';
	while (n > 0) {
		b[--i] = '0' + n % 10;
		n = n / 10;
	}
	put(fd, b + i);
}

void error2(char *msg, char *what)
{
	if (curfile) {
		put(2, curfile);
		put(2, ":");
		putnum(2, curline);
		put(2, ": ");
	}
	put(2, "error: ");
	put(2, msg);
	if (what) {
		put(2, ": ");
		put(2, what);
	}
	put(2, "\n");
	exit(1);
}

void error(char *msg)
{
	error2(msg, 0);
}

void *alloc(int n)
{
	char *p = malloc(n);
	if (!p)
		error("out of memory");
	memset(p, 0, n);
	return p;
}

char *dupstr(char *s, int len)
{
	char *p = alloc(len + 1);
	memcpy(p, s, len);
	p[len] = 0;
	return p;
}

/* a whole file, NUL-terminated (read(2), no stdio buffer between): 0 if it cannot be opened */
char *read_file(char *path, int *len)
{
	int fd = open(path, 0);
	char *buf;
	int cap = 16384;
	int n = 0;
	int got;
	if (fd < 0)
		return 0;
	buf = alloc(cap + 1);
	while (1) {
		if (n == cap) {
			cap = cap * 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				error("out of memory");
		}
		got = read(fd, buf + n, cap - n);
		if (got <= 0)
			break;
		n = n + got;
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
}
