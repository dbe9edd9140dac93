/* krclass.c: the C of a 1985 program on the guest, written for vcluster's tests.
 *
 * Old-style definitions, implicit int, library functions declared by hand
 * beside the headers (`extern char *malloc ();`, `extern long time ();`),
 * <memory.h>, <sys/types.h>, <sys/times.h> with times() and HZ (not defined
 * here: the build predefines it), clock(), and open/read/lseek/close on the
 * file named by argv[1]. Prints nothing that depends on the time or the host.
 */
#include <stdio.h>
#include <memory.h>
#include <sys/types.h>
#include <sys/times.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

extern char *malloc ();
extern char *strcpy ();
extern char *strcat ();
extern long time ();

static char buf[64];
long stamp;             /* time (&stamp) stores a long here ... */
long guard = 12345;     /* ... and nothing into its neighbour */

count (s, c)
register char *s;
{
    register n = 0;

    while (*s)
        if (*s++ == c)
            n++;
    return n;
}

main (argc, argv)
char **argv;
{
    int fd, n;
    long t;
    char *p;
    struct tms tm;

    p = malloc (100);
    strcpy (p, "hello");
    strcat (p, ", k&r");
    printf ("%s: %d l's, argc %d\n", p, count (p, 'l'), argc);
    memset (buf, 'x', 8);
    buf[8] = 0;
    printf ("memset %s memcmp %d\n", buf, memcmp (buf, "xxxxxxxx", 8));
    t = time (&stamp);
    printf ("time agrees %d, guard %ld, sizeof (time_t) == sizeof (long) %d\n", t == stamp,
            guard, sizeof (time_t) == sizeof (long));
    printf ("HZ %d\n", HZ);
    printf ("times %d clock %d\n", times (&tm) != (clock_t) -1, clock () >= 0 && CLOCKS_PER_SEC > 0);
    if ((fd = open (argv[1], 0)) < 0) {
        printf ("cannot open %s\n", argv[1]);
        exit (1);
    }
    n = read (fd, buf, 10);
    buf[n] = 0;
    printf ("read %d: %s\n", n, buf);
    printf ("lseek %ld\n", (long) lseek (fd, 4L, 0));
    n = read (fd, buf, 5);
    buf[n] = 0;
    printf ("then %d: %s\n", n, buf);
    printf ("at end %ld\n", (long) lseek (fd, 0L, 2));
    printf ("close %d\n", close (fd));
    printf ("open missing %d\n", open ("no-such-file", 0));
}
