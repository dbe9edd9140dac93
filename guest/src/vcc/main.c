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
		return sum_files(argv[2], argv + 3, argc - 3);
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
