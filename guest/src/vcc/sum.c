/* sum.c: `vcc -sum OUT FILE...`, a build's last step (part of vcluster's own compiler, vcc).
 *
 * For each FILE a line `NAME BYTES 0xADLER32` (zlib's Adler-32), then
 * `total BYTES 0xADLER32` over all of them in order, written to OUT and
 * printed; status 1 if a FILE is missing.  A FILE.sum written by vcc -sum
 * stands for the files it sums: its lines are taken as they are (its total
 * left out) and combined, so a build can sum its outputs in parts, in
 * parallel, and combine the parts last.  The sums are kept in ints that
 * cannot overflow on any machine (their remainders taken often enough); the
 * total is combined from the files' sums, as zlib's adler32_combine does.
 */
#include "vcc.h"

static void say(char *s)
{
	write(1, s, strlen(s));
}

/* Adler-32 of len more bytes: the remainders taken every 3800 bytes, before an int could overflow */
static void adler(int *pa, int *ps, char *data, int len)
{
	unsigned char *p = (unsigned char *)data;
	int a = *pa;
	int s = *ps;
	int n;
	while (len > 0) {
		n = len < 3800 ? len : 3800;
		len = len - n;
		while (n >= 4) {
			a += p[0];
			s += a;
			a += p[1];
			s += a;
			a += p[2];
			s += a;
			a += p[3];
			s += a;
			p += 4;
			n -= 4;
		}
		while (n > 0) {
			a += *p++;
			s += a;
			n--;
		}
		a = a % 65521;
		s = s % 65521;
	}
	*pa = a;
	*ps = s;
}

/* (x * y) % 65521 for x, y below 65536, in halves that fit an int */
static int mulmod(int x, int y)
{
	int hi = x * (y >> 8) % 65521;
	return (hi * 256 + x * (y & 255)) % 65521;
}

/* the Adler-32 (*pa, *ps) of A then B, from B's sums (a, s) and length (zlib's adler32_combine) */
static void combine(int *pa, int *ps, int a, int s, int len)
{
	int rem = len % 65521;
	int a1 = *pa;
	int s2 = mulmod(rem, a1) + *ps + s + 65521 - rem;
	a1 = a1 + a + 65521 - 1;
	while (a1 >= 65521)
		a1 = a1 - 65521;
	while (s2 >= 65521)
		s2 = s2 - 65521;
	*pa = a1;
	*ps = s2;
}

static void hex8(char *b, int hi, int lo)
{
	char *digits = "0123456789abcdef";
	int i;
	for (i = 0; i < 4; i++) {
		b[3 - i] = digits[hi & 15];
		hi = hi >> 4;
		b[7 - i] = digits[lo & 15];
		lo = lo >> 4;
	}
	b[8] = 0;
}

static void decimal(char *b, int n)
{
	char t[16];
	int i = 15;
	t[i] = 0;
	do {
		t[--i] = '0' + n % 10;
		n = n / 10;
	} while (n);
	memcpy(b, t + i, 16 - i);
}

/* one line of the sum: NAME BYTES 0xHHHHLLLL */
static void sum_line(struct Buf *b, char *name, int bytes, int a, int s)
{
	char num[16];
	buf_add(b, name, strlen(name));
	buf_add(b, " ", 1);
	decimal(num, bytes);
	buf_add(b, num, strlen(num));
	buf_add(b, " 0x", 3);
	hex8(num, s, a);
	buf_add(b, num, 8);
	buf_add(b, "\n", 1);
}

static int ends_with(char *s, char *end)
{
	int n = strlen(s);
	int m = strlen(end);
	return n >= m && strcmp(s + n - m, end) == 0;
}

static int hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* the lines of an earlier sum (its total left out), taken as they are and combined: 0 if malformed */
static int sum_of_sums(struct Buf *b, char *data, int *pa, int *ps, int *total)
{
	char *line = data;
	while (*line) {
		char *p = line;
		char *name = line;
		int namelen;
		int bytes = 0;
		int hi = 0;
		int lo = 0;
		int i;
		while (*p && *p != ' ' && *p != '\n')
			p++;
		namelen = p - name;
		if (*p++ != ' ' || *p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9') {
			if (bytes > 100000000)
				return 0;
			bytes = bytes * 10 + *p++ - '0';
		}
		if (p[0] != ' ' || p[1] != '0' || p[2] != 'x')
			return 0;
		p = p + 3;
		for (i = 0; i < 8; i++) {
			int d = hexdigit(*p++);
			if (d < 0)
				return 0;
			if (i < 4)
				hi = hi * 16 + d;
			else
				lo = lo * 16 + d;
		}
		if (*p++ != '\n' || hi >= 65521 || lo >= 65521)
			return 0;
		if (!(namelen == 5 && memcmp(name, "total", 5) == 0)) {
			combine(pa, ps, lo, hi, bytes);
			*total = *total + bytes;
			buf_add(b, line, p - line);
		}
		line = p;
	}
	return 1;
}

int sum_files(char *outname, char **files, int n)
{
	struct Buf b;
	int i;
	int ta = 1;
	int ts = 0;
	int total = 0;
	int bad = 0;
	void *f;
	buf_init(&b);
	for (i = 0; i < n; i++) {
		int len;
		int a = 1;
		int s = 0;
		char *data = read_file(files[i], &len);
		if (!data) {
			say("vcc: ");
			say(files[i]);
			say(": missing\n");
			bad = 1;
			continue;
		}
		if (ends_with(files[i], ".sum")) {
			if (!sum_of_sums(&b, data, &ta, &ts, &total)) {
				say("vcc: ");
				say(files[i]);
				say(": not a sum of vcc -sum\n");
				bad = 1;
			}
			free(data);
			continue;
		}
		adler(&a, &s, data, len);
		combine(&ta, &ts, a, s, len);
		total = total + len;
		sum_line(&b, files[i], len, a, s);
		free(data);
	}
	sum_line(&b, "total", total, ta, ts);
	write(1, b.data, b.len);
	f = fopen(outname, "wb");
	if (!f || (int)fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
		say("vcc: cannot write ");
		say(outname);
		say("\n");
		return 1;
	}
	return bad;
}

