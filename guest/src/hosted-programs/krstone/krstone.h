/* krstone.h: a Dhrystone-style benchmark in K&R C, written for vcluster's tests (not Dhrystone's code).
 *
 * What it shares with Dhrystone 2.1 is the kind of C a 1985 benchmark is
 * written in: old-style definitions, implicit int, `extern char *malloc ();`
 * and `extern char *strcpy ();` instead of the headers, records with a union
 * variant, struct assignment, string copy and compare, an enumeration,
 * pointer chasing, the number of runs read with scanf from standard input,
 * and the time taken with times() in 1/HZ s (HZ from the compiler's -D).
 */
#include <stdio.h>
#include <sys/types.h>
#include <sys/times.h>

#ifndef HZ
#include <sys/param.h>
#endif

typedef enum { Red, Green, Blue, Cyan, Magenta } Colour;

typedef struct node {
    struct node    *next;
    Colour          colour;
    int             weight;
    union {
        struct { int count; char label[24]; } tally;
        struct { Colour c1, c2; } pair;
        struct { char a, b; } chars;
    } v;
} Node, *Node_Ptr;

typedef char Name[31];

extern Node_Ptr   Ring;
extern int        Glob_Sum;
extern char       Glob_Ch;
extern int        Table[40];
extern int        Grid[20][20];

extern Colour     Mix ();
extern int        Weigh ();
