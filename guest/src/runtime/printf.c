/* printf.c: the formatting engine shared by the printf family.
 *
 * Conversions: %d %i %u %x %X %o %c %s %p %%, flags '-' '0' '+' ' ' '#',
 * width and precision (numbers or '*'), length modifiers h hh l z t j
 * (int and long are both 32 bits; there is no 64-bit support: 'll' is read
 * as 'l').
 */
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef void (*emit_fn)(void *ctx, const char *s, size_t n);

static const char zeros[] = "0000000000000000";
static const char spaces[] = "                ";

static void pad(emit_fn emit, void *ctx, const char *fill, long n)
{
    while (n > 0) {
        long k = n > 16 ? 16 : n;
        emit(ctx, fill, (size_t)k);
        n -= k;
    }
}

/* Returns the number of characters produced. */
int __vformat(emit_fn emit, void *ctx, const char *fmt, va_list ap)
{
    int total = 0;

    while (*fmt) {
        const char *start = fmt;
        int left = 0, zero = 0, plus = 0, space = 0, alt = 0;
        long width = 0, prec = -1;
        char conv;
        char tmp[16];     /* digits, least significant last */
        const char *body; /* what to print, length blen */
        long blen;
        const char *pct;  /* where this conversion starts */
        const char *prefix = "";
        long plen = 0;
        long nzeros = 0;

        while (*fmt && *fmt != '%')
            fmt++;
        if (fmt > start) {
            emit(ctx, start, (size_t)(fmt - start));
            total += fmt - start;
        }
        if (!*fmt)
            break;
        pct = fmt;
        fmt++; /* the '%' */

        for (;; fmt++) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '0')
                zero = 1;
            else if (*fmt == '+')
                plus = 1;
            else if (*fmt == ' ')
                space = 1;
            else if (*fmt == '#')
                alt = 1;
            else
                break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = 1;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
            }
        }
        while (*fmt == 'l' || *fmt == 'h' || *fmt == 'z' || *fmt == 't' || *fmt == 'j')
            fmt++; /* every integer argument is 32 bits */
        conv = *fmt;
        if (!conv)
            break;
        fmt++;

        switch (conv) {
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o':
        case 'p': {
            unsigned long v;
            unsigned int base = 10;
            const char *digits = "0123456789abcdef";
            char *p = tmp + sizeof(tmp);

            if (conv == 'd' || conv == 'i') {
                long s = va_arg(ap, long);
                if (s < 0) {
                    prefix = "-";
                    v = -(unsigned long)s;
                } else {
                    v = (unsigned long)s;
                    prefix = plus ? "+" : space ? " " : "";
                }
            } else if (conv == 'p') {
                v = (unsigned long)va_arg(ap, void *);
                base = 16;
                prefix = "0x";
            } else {
                v = va_arg(ap, unsigned long);
                if (conv == 'o') {
                    base = 8;
                } else if (conv != 'u') {
                    base = 16;
                    if (conv == 'X')
                        digits = "0123456789ABCDEF";
                    if (alt && v)
                        prefix = conv == 'X' ? "0X" : "0x";
                }
            }
            if (base == 10) {
                while (v) {
                    unsigned long q = v / 10;
                    *--p = (char)('0' + (v - q * 10));
                    v = q;
                }
            } else {
                unsigned int shift = base == 16 ? 4 : 3;
                while (v) {
                    *--p = digits[v & (base - 1)];
                    v >>= shift;
                }
            }
            blen = tmp + sizeof(tmp) - p;
            if (prec < 0 && blen == 0)
                *--p = '0', blen = 1; /* zero prints "0" unless precision 0 */
            if (conv == 'o' && alt && (blen == 0 || *p != '0'))
                *--p = '0', blen++;
            body = p;
            plen = (long)strlen(prefix);
            if (prec >= 0) {
                if (prec > blen)
                    nzeros = prec - blen;
            } else if (zero && !left && width > plen + blen) {
                nzeros = width - plen - blen;
            }
            break;
        }
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            body = tmp;
            blen = 1;
            break;
        case 's':
            body = va_arg(ap, const char *);
            if (!body)
                body = "(null)";
            blen = prec >= 0 ? (long)strnlen(body, (size_t)prec) : (long)strlen(body);
            break;
        case '%':
            body = "%";
            blen = 1;
            break;
        default: /* unknown: print it as it was written */
            body = pct;
            blen = fmt - pct;
            break;
        }

        {
            long used = plen + nzeros + blen;
            long fill = width > used ? width - used : 0;
            if (!left)
                pad(emit, ctx, spaces, fill);
            if (plen)
                emit(ctx, prefix, (size_t)plen);
            pad(emit, ctx, zeros, nzeros);
            emit(ctx, body, (size_t)blen);
            if (left)
                pad(emit, ctx, spaces, fill);
            total += used + fill;
        }
    }
    return total;
}
