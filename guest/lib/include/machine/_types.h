/*
 *  $Id$
 */

#ifndef _MACHINE__TYPES_H
#define _MACHINE__TYPES_H
#include <machine/_default_types.h>
#define __machine_clock_t_defined
#define _CLOCK_T_ long /* clock(), times(): a long, as in glibc */
#endif
