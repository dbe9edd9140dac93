/* adler32.h: the checksum of the guest programs' data (ipcserver, ipcclient,
 * files): Adler-32 as in zlib (RFC 1950), so the host side can check it with
 * Python's zlib.adler32(). Start with ADLER32_INIT and feed the data in
 * pieces of any size: adler32(adler32(ADLER32_INIT, a, n), b, m) is the
 * checksum of a followed by b.
 *
 * The sums are reduced every ADLER32_NMAX bytes only (zlib's bound: b cannot
 * overflow 32 bits in between), so the inner loop is two additions a byte. */
#ifndef ADLER32_H
#define ADLER32_H

#define ADLER32_INIT 1UL
#define ADLER32_MOD 65521UL
#define ADLER32_NMAX 5552UL

static inline unsigned long adler32(unsigned long adler, const void *data, unsigned long n)
{
    const unsigned char *p = data;
    unsigned long a = adler & 0xFFFF, b = (adler >> 16) & 0xFFFF;

    while (n > 0) {
        unsigned long k = n < ADLER32_NMAX ? n : ADLER32_NMAX;
        n -= k;
        while (k-- > 0) {
            a += *p++;
            b += a;
        }
        a %= ADLER32_MOD;
        b %= ADLER32_MOD;
    }
    return (b << 16) | a;
}

#endif
