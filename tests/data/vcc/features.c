/* features.c: a test of vcc's C subset (tests/test_vcc.py): built by vcc for the guest and by the
 * host's gcc, it must print the same lines. No undefined or implementation-defined behaviour. */
#ifndef __VCC__
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#else
int printf(char *fmt, ...);
int strcmp(char *a, char *b);
int strlen(char *s);
void *malloc(int n);
void free(void *p);
char *strcpy(char *d, char *s);
#endif

#define N 10
#define SHIFTED (1 << 4)

struct point {
	int x;
	short y;
	char tag;
	struct point *next;
};

enum color { RED, GREEN = 5, BLUE, LAST = BLUE * 2 };
typedef struct cell cell_t;
typedef unsigned int word_t;
typedef char name_t[8];

/* no pointers and no padding: the same size on every machine */
struct cell {
	int x;
	short y;
	char tag;
	char mark;
};

union word {
	int i;
	char c;
};

struct table {
	char name[12];
	int values[N];
	struct cell origin;
};

int counter;
int colors[LAST + 1];
/* constant expressions, computed by the compiler */
int consts[] = {-7 / 2, -7 % 2, 7 / -2, (1 << 30) / 3, ~5 & 0xff, -2147483647 - 1, 'a' * 3,
		(int)sizeof(struct cell) * 2, LAST ? 1 : 2, 0x7fffffff - 1, 017, -(3 - 10) * -4, !0 + !7,
		(5 > 3) + (5 <= 3) * 10 + (2 != 2) * 100 + (4 == 4) * 1000, (1000000 >> 3 ^ 255) | 4096, (char)200,
		(unsigned char)-1, (short)40000};
int primes[] = {2, 3, 5, 7, 11, 13};
char greeting[] = "hello";
char *words[] = {"zero", "one", "two", "three"};
struct table tab;
static int hidden = -5;
unsigned int big = 4000000000u;

static int fib(int n)
{
	if (n < 2)
		return n;
	return fib(n - 1) + fib(n - 2);
}

static int sum(int *a, int n)
{
	int s = 0;
	int i;
	for (i = 0; i < n; i++)
		s += a[i];
	return s;
}

static char *classify(int c)
{
	switch (c) {
	case 'a':
	case 'e':
	case 'i':
	case 'o':
	case 'u':
		return "vowel";
	case ' ':
		return "blank";
	default:
		if (c >= '0' && c <= '9')
			return "digit";
		break;
	}
	return "other";
}

static unsigned char low(int x)
{
	return x;
}

static short half(int x)
{
	return x;
}

static void swap(int *a, int *b)
{
	int t = *a;
	*a = *b;
	*b = t;
}

static void sort(int *a, int n)
{
	int i;
	int j;
	for (i = 0; i < n; i++)
		for (j = n - 1; j > i; j--)
			if (a[j - 1] > a[j])
				swap(&a[j - 1], &a[j]);
}

static int many(int a, int b, int c, int d, int e, char f)
{
	return a - b * c + d / e + f;
}

static struct point *chain(int n)
{
	struct point *head = 0;
	int i;
	for (i = 0; i < n; i++) {
		struct point *p = malloc(sizeof(struct point));
		p->x = i * i;
		p->y = -i;
		p->tag = 'A' + i;
		p->next = head;
		head = p;
	}
	return head;
}

int main(void)
{
	int a[N];
	int i;
	int x = 7;
	int y = -3;
	unsigned int u = 3000000000u;
	unsigned char uc = 200;
	char sc = -100;
	short sh = -12345;
	char buf[32];
	char *p;
	struct point *q;
	struct point pt;
	union word w;
	int k = 0;
	cell_t cells[3];
	word_t wd = 4000000000u;
	name_t nm;
	enum color col = GREEN;

	printf("fib %d %d\n", fib(10), fib(20));
	for (i = 0; i < N; i++)
		a[i] = (i * 37 + 11) % 17 - 8;
	sort(a, N);
	for (i = 0; i < N; i++)
		printf("%d ", a[i]);
	printf("\nsum %d primes %d\n", sum(a, N), sum(primes, sizeof(primes) / sizeof(primes[0])));
	printf("ops %d %d %d %d %d %d\n", x + y, x - y, x * y, x / y, x % y, -x / 2);
	printf("bits %d %d %d %d %d %d\n", x & y, x | y, x ^ y, ~x, x << 3, y >> 1);
	printf("cmp %d %d %d %d %d %d\n", x < y, x > y, x <= 7, y >= -3, x == 7, y != -3);
	printf("logic %d %d %d %d\n", x && y, x && 0, 0 || y, !x);
	printf("unsigned %u %u %u %d\n", u / 7, u % 1000, u >> 3, u > 5);
	printf("narrow %d %d %d %d\n", uc, sc, sh, (char)300);
	uc = uc + 100;
	sc = sc - 100;
	printf("wrap %d %d\n", uc, sc);
	printf("cond %d %s\n", x > 0 ? x : -x, y > 0 ? "pos" : "neg");
	x += 5;
	x -= 2;
	x *= 3;
	x /= 2;
	x %= 7;
	x <<= 2;
	x >>= 1;
	x |= 64;
	x &= 0xf3;
	x ^= 5;
	printf("assign %d\n", x);
	i = 5;
	printf("incdec %d", i++);
	printf(" %d", i);
	printf(" %d", ++i);
	printf(" %d", i--);
	printf(" %d\n", --i);
	p = greeting;
	printf("str %s %d %c %c %d\n", p, (int)strlen(p), *p, p[4], *(p + 1));
	strcpy(buf, "abc" "def");
	buf[1] = 'X';
	printf("buf %s %d\n", buf, strcmp(buf, "aXcdef"));
	for (i = 0; i < 4; i++)
		printf("%s%c", words[i], i == 3 ? '\n' : ',');
	for (p = "a1 zE"; *p; p++)
		printf("%s ", classify(*p));
	printf("\n");
	q = chain(5);
	while (q) {
		struct point *next = q->next;
		printf("[%d %d %c]", q->x, q->y, q->tag);
		free(q);
		q = next;
	}
	printf("\n");
	pt.x = 3;
	pt.y = 4;
	pt.next = &pt;
	printf("struct %d %d %d\n", pt.next->x * pt.next->x + pt.y * pt.y, (int)sizeof(struct cell),
	       (int)sizeof(struct table));
	strcpy(tab.name, "table");
	for (i = 0; i < N; i++)
		tab.values[i] = i * SHIFTED;
	tab.origin.x = -1;
	printf("table %s %d %d %d\n", tab.name, tab.values[9], tab.origin.x, (int)sizeof(tab.values));
	w.i = 0;
	w.c = 1;
	printf("union %d\n", (int)sizeof(w));
	do {
		k++;
		if (k == 3)
			continue;
		if (k > 6)
			break;
	} while (k < 100);
	printf("loop %d\n", k);
	while (1) {
		k = k * 2;
		if (k > 1000)
			break;
	}
	printf("while %d %d %d\n", k, many(1, 2, 3, 40, 5, 'a'), hidden + counter);
	printf("globals %d %u %d %u\n", primes[5], big, greeting[0], big >> 2);
	x = 0;
	for (i = 0; i < 20; i++) {
		if (i % 3 == 0)
			continue;
		x += i;
	}
	printf("for %d\n", x);
	printf("results %d %d %d\n", low(300), half(40000), low(-1) + half(-70000));
	for (i = 0; i < (int)(sizeof(consts) / sizeof(consts[0])); i++)
		printf("%d%c", consts[i], i == 17 ? '\n' : ' ');
	cells[2].x = BLUE;
	cells[1].mark = 'm';
	strcpy(nm, "seven");
	colors[LAST] = RED + GREEN + BLUE;
	switch (col) {
	case RED:
		printf("red\n");
		break;
	case GREEN:
		printf("green\n");
		break;
	default:
		break;
	}
	printf("enum %d %d %d %d %d %u %s %d\n", RED, GREEN, BLUE, LAST, (int)sizeof(colors), wd / 3, nm,
	       cells[2].x + cells[1].mark + colors[LAST] + (int)sizeof(cell_t) + (int)sizeof(name_t));
	return 3;
}
