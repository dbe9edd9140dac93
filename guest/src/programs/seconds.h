/* seconds.h: parse a SECONDS argument of the V programs ("2", "0.5", "1.25") into milliseconds. */
#ifndef _SECONDS_H
#define _SECONDS_H

/* At most three decimals count; -1 if malformed or if the whole seconds exceed max_seconds. */
static long parse_seconds_ms(const char *s, long max_seconds)
{
    long ms = 0, scale = 1000;

    if (*s < '0' || *s > '9')
        return -1;
    while (*s >= '0' && *s <= '9') {
        ms = ms * 10 + (*s++ - '0');
        if (ms > max_seconds)
            return -1;
    }
    ms *= 1000;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            scale /= 10;
            ms += (*s++ - '0') * scale;
        }
    }
    return *s ? -1 : ms;
}

#endif
