/* main.c: vcc's command line (part of vcluster's own compiler, vcc).
 *
 *   vcc [-o OUT] FILE.c      compile FILE.c into 68000 assembly: OUT (default FILE.s)
 *   vcc -sum OUT FILE...     a build's last step: for each FILE a line
 *                            `NAME BYTES 0xADLER32` (zlib's Adler-32), then
 *                            `total BYTES 0xADLER32` over them all, written
 *                            to OUT and printed; status 1 if one is missing
 *
 * Errors print `FILE:LINE: error: ...` and exit with status 1; usage, 2.
 */
#include "vcc.h"

static void say(char *s)
{
	write(1, s, strlen(s));
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

static int sum(char *outname, char **files, int n)
{
	struct Buf b;
	int i;
	int j;
	int ta = 1;
	int ts = 0;
	int total = 0;
	int bad = 0;
	void *f;
	b.data = 0;
	b.len = 0;
	b.cap = 0;
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
		for (j = 0; j < len; j++) {
			int c = data[j] & 255;
			a = (a + c) % 65521;
			s = (s + a) % 65521;
			ta = (ta + c) % 65521;
			ts = (ts + ta) % 65521;
		}
		total = total + len;
		sum_line(&b, files[i], len, a, s);
		free(data);
	}
	sum_line(&b, "total", total, ta, ts);
	write(1, b.data, b.len);
	f = fopen(outname, "wb");
	if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
		say("vcc: cannot write ");
		say(outname);
		say("\n");
		return 1;
	}
	return bad;
}

static char *default_output(char *in)
{
	int n = strlen(in);
	char *out = alloc(n + 3);
	memcpy(out, in, n + 1);
	if (n > 2 && in[n - 2] == '.' && in[n - 1] == 'c')
		out[n - 1] = 's';
	else
		memcpy(out + n, ".s", 3);
	return out;
}

int main(int argc, char **argv)
{
	char *in = 0;
	char *output = 0;
	int i;
	if (argc >= 3 && strcmp(argv[1], "-sum") == 0)
		return sum(argv[2], argv + 3, argc - 3);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			i++;
			output = argv[i];
		} else if (argv[i][0] == '-' || in) {
			in = 0;
			break;
		} else
			in = argv[i];
	}
	if (!in) {
		say("usage: vcc [-o OUT] FILE.c | vcc -sum OUT FILE...\n");
		return 2;
	}
	if (!output)
		output = default_output(in);
	lex_open(in);
	out_open(output);
	toplevel();
	out_close();
	return 0;
}
