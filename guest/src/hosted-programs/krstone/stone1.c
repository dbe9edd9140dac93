/* stone1.c: krstone's main program and first package (K&R C, written for vcluster's tests). */
#include "krstone.h"

Node_Ptr        Ring;
int             Glob_Sum;
char            Glob_Ch;
int             Table[40];
int             Grid[20][20];

extern char    *malloc ();
extern char    *strcpy ();
extern int      strcmp ();

#define Too_Small_Time (2*HZ)

struct tms      time_info;
long            Begin_Time, End_Time, User_Time;
float           Micros_Per_Run, Runs_Per_Second;

Step (p, n)
Node_Ptr p;
int n;
{
    Node       copy;
    Node_Ptr   q = p->next;

    copy = *p;                       /* struct assignment */
    copy.weight = (copy.weight + n) & 0xffff;
    *q = copy;                       /* and back through a pointer */
    q->next = p->next->next;
    if (q->colour == Blue)
        q->v.tally.count = (q->v.tally.count + Weigh (q->v.tally.label, n)) & 0xfffff;
    else
        q->colour = Mix (q->colour, p->colour);
    Table[n % 40] = (Table[n % 40] + (q->weight & 7)) & 0xffff;
    return q->weight;
}

Fill (row, k)
int row, k;
{
    register int i;

    for (i = 0; i < 20; i++)
        Grid[row][i] = (Grid[(row + 19) % 20][i] + k + i) & 0xfffff;
    Grid[k % 20][row] -= row;
}

main ()
{
    Node_Ptr   a, b, c;
    Name       s1, s2;
    int        runs, run, w, i;
    unsigned   total = 0, j;
    Colour     col;

    a = (Node_Ptr) malloc (sizeof (Node));
    b = (Node_Ptr) malloc (sizeof (Node));
    c = (Node_Ptr) malloc (sizeof (Node));
    a->next = b; b->next = c; c->next = a;      /* a ring of three */
    a->colour = Blue; a->weight = 1;
    strcpy (a->v.tally.label, "krstone record, first");
    a->v.tally.count = 0;
    *b = *a; b->next = c;
    *c = *a; c->next = a; c->colour = Green;
    Ring = a;
    strcpy (s1, "krstone, the first string");

    printf ("krstone: a Dhrystone-style benchmark in K&R C\n");
    printf ("number of runs: ");
    fflush (stdout);
    runs = 0;
    if (scanf ("%d", &runs) != 1 || runs <= 0) {
        printf ("\nkrstone: no number of runs on standard input\n");
        return 2;
    }
    printf ("%d\n", runs);

    times (&time_info);
    Begin_Time = (long) time_info.tms_utime;

    for (run = 1; run <= runs; ++run) {
        w = Step (Ring, run);
        Ring = Ring->next;
        strcpy (s2, run & 1 ? "krstone, the odd string" : "krstone, the even string");
        if (strcmp (s1, s2) < 0)
            Glob_Ch = s2[run % 20];
        col = Mix (Ring->colour, (Colour) (run % 5));
        if (col == Cyan)
            Glob_Sum = (Glob_Sum + (w & 0xff)) & 0xffffff;
        else
            Glob_Sum ^= run;
        Fill (run % 20, run);
        total += Weigh (s2, run);
    }

    times (&time_info);
    End_Time = (long) time_info.tms_utime;

    printf ("final values (the same on every machine):\n");
    printf ("Glob_Sum:   %d\n", Glob_Sum);
    printf ("Glob_Ch:    %c\n", Glob_Ch);
    printf ("total:      %u\n", total);
    for (i = 0, j = 0; i < 40; i++)
        j = j * 31 + Table[i];
    printf ("Table:      %u\n", j);
    for (i = 0, j = 0; i < 400; i++)
        j = j * 17 + Grid[i / 20][i % 20];
    printf ("Grid:       %u\n", j);
    for (i = 0, a = Ring; i < 3; i++, a = a->next)
        printf ("node %d:     colour %d weight %d count %d label %s\n", i, (int) a->colour,
                a->weight, a->colour == Blue ? a->v.tally.count : -1,
                a->colour == Blue ? a->v.tally.label : "-");
    printf ("s2:         %s\n", s2);

    User_Time = End_Time - Begin_Time;
    if (User_Time < Too_Small_Time) {
        printf ("Measured time too small to obtain meaningful results\n");
        printf ("Please increase number of runs\n");
    } else {
        Micros_Per_Run = (float) User_Time * 1000000.0 / ((float) HZ * (float) runs);
        Runs_Per_Second = ((float) HZ * (float) runs) / (float) User_Time;
        printf ("Ticks: %ld of 1/%d s\n", User_Time, HZ);
        printf ("Microseconds for one run: %6.1f\n", Micros_Per_Run);
        printf ("Krstones per second:      %6.1f\n", Runs_Per_Second);
    }
}
