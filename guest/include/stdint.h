/* stdint.h: fixed-width integers for the 68010 (no 64-bit types: the
 * runtime supplies no 64-bit arithmetic helpers). */
#ifndef _STDINT_H
#define _STDINT_H

typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef long int32_t;
typedef unsigned long uint32_t;
typedef long intptr_t;
typedef unsigned long uintptr_t;

#define INT32_MAX 0x7fffffffL
#define INT32_MIN (-INT32_MAX - 1)
#define UINT32_MAX 0xffffffffUL

#endif
