/* stone2.c: krstone's second package (K&R C, written for vcluster's tests). */
#include "krstone.h"

Colour
Mix (x, y)
Colour x, y;
{
    Colour m = (Colour) (((int) x + (int) y) % 5);

    if (m == x)
        return Red;
    return m == Magenta ? Cyan : m;
}

int
Weigh (s, n)
char *s;
int n;
{
    register char *p = s;
    unsigned h = n;

    while (*p)
        h = h * 3 + *p++;
    return (int) (h & 0x7fff);
}
