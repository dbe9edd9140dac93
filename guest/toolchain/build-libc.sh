#!/bin/sh
# build-libc.sh: build the hosted guest C library into guest/lib from Debian's source packages.
#
#   newlib 3.3.0 (newlib-source)  -> lib/libc.a, lib/libm.a, lib/include/
#   GCC 12's libgcc (gcc-12-source): lb1sf68.S (soft-float, 32-bit mul/div),
#     fpgnulib.c (float/double/long double conversions), one libgcc2.c object
#     per 64-bit integer and conversion routine  -> lib/libgcc.a
#
# Everything is compiled for the 68010 (-mcpu=68010, assembler -m68010) with
# soft float by Debian's m68k-linux-gnu tools, through the m68k-elf-* wrappers
# this script writes (newlib's configure wants an m68k-elf toolchain). Needs:
#   apt-get install gcc-m68k-linux-gnu binutils-m68k-linux-gnu newlib-source gcc-12-source
# Usage: guest/toolchain/build-libc.sh [WORKDIR [OUTDIR]]
#   WORKDIR default: a temporary directory; OUTDIR default: guest/lib
# The result is reproducible (ar D mode, no timestamps, no debug information):
# tests/test_libc_reproducible.py rebuilds into a temporary OUTDIR and compares.
# time_t is a 32-bit long, as on the Unix of 1985 (K&R programs declare
# `long time();` and pass a long's address to it), and clock_t a long.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
GUEST=$(dirname "$HERE")
WORK=${1:-$(mktemp -d)}
OUT=${2:-"$GUEST/lib"}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
NEWLIB_TAR=$(ls /usr/src/newlib/newlib-*.tar.* 2>/dev/null | head -n 1)
GCC_TAR=$(ls /usr/src/gcc-12/gcc-12.*.tar.* 2>/dev/null | head -n 1)
[ -n "$NEWLIB_TAR" ] || { echo "build-libc: no newlib source (apt-get install newlib-source)" >&2; exit 1; }
[ -n "$GCC_TAR" ] || { echo "build-libc: no GCC 12 source (apt-get install gcc-12-source)" >&2; exit 1; }
command -v m68k-linux-gnu-gcc >/dev/null || { echo "build-libc: no m68k-linux-gnu-gcc" >&2; exit 1; }
JOBS=$(nproc 2>/dev/null || echo 2)
mkdir -p "$WORK" && cd "$WORK"
WORK=$(pwd)

# --- the m68k-elf-* wrappers --------------------------------------------------
GCCINC=$(m68k-linux-gnu-gcc -print-file-name=include)
mkdir -p bin
cat > bin/m68k-elf-gcc <<WRAP
#!/bin/sh
exec m68k-linux-gnu-gcc -mcpu=68010 -Wa,-m68010 -msoft-float -nostdinc -idirafter $GCCINC \\
  -U__linux__ -U__linux -U__gnu_linux__ -Ulinux -U__unix__ -U__unix -Uunix \\
  -fno-pic -fno-pie -fno-store-merging -ffile-prefix-map=$WORK/= "\$@"
WRAP
cp bin/m68k-elf-gcc bin/m68k-elf-cc
for t in ar as ld nm ranlib objdump strip readelf objcopy; do
  printf '#!/bin/sh\nexec m68k-linux-gnu-%s "$@"\n' "$t" > "bin/m68k-elf-$t"
done
chmod +x bin/*
PATH="$WORK/bin:$PATH"
export PATH

# --- newlib ------------------------------------------------------------------
if [ ! -d newlib-src ]; then
  mkdir newlib-src && tar xf "$NEWLIB_TAR" -C newlib-src --strip-components=1
fi
# clock_t is a long, as in glibc (newlib's default is unsigned long), so that a
# K&R `extern long clock ();` or `extern long times ();` agrees with the headers
MT=newlib-src/newlib/libc/include/machine/_types.h
if ! grep -q __machine_clock_t_defined "$MT"; then
  sed -i 's|^#include <machine/_default_types.h>$|&\n#define __machine_clock_t_defined\n#define _CLOCK_T_ long /* clock(), times(): a long, as in glibc */|' "$MT"
  grep -q __machine_clock_t_defined "$MT" || { echo "build-libc: cannot patch $MT" >&2; exit 1; }
fi
rm -rf nl-build nl-install && mkdir nl-build
( cd nl-build && ../newlib-src/configure --target=m68k-elf --prefix="$WORK/nl-install" \
    --disable-newlib-supplied-syscalls --disable-multilib --disable-libgloss \
    --enable-newlib-io-long-long --enable-newlib-io-c99-formats --disable-nls \
    --enable-newlib-long-time_t \
    CFLAGS_FOR_TARGET="-O2 -g0 -UMISSING_SYSCALL_NAMES -ffunction-sections -fdata-sections" \
    > ../newlib-configure.log 2>&1 \
  && make -j"$JOBS" all-target-newlib > ../newlib-make.log 2>&1 \
  && make install-target-newlib > ../newlib-install.log 2>&1 ) \
  || { echo "build-libc: newlib failed; see $WORK/newlib-*.log" >&2; exit 1; }

# --- libgcc --------------------------------------------------------------------
if [ ! -d gcc-src ]; then
  mkdir gcc-src && tar xf "$GCC_TAR" -C gcc-src --strip-components=1 \
    --wildcards '*/libgcc/*' '*/gcc/*.h' '*/gcc/*.def' '*/include/*'
fi
G="$WORK/gcc-src"
mkdir -p lg/stub && rm -rf lg/obj && mkdir lg/obj
printf '#define USED_FOR_TARGET 1\n' > lg/stub/tconfig.h
printf '#define UNITS_PER_WORD 4\n#define MIN_UNITS_PER_WORD 4\n#define LIBGCC2_UNITS_PER_WORD 4\n' > lg/stub/tm.h
: > lg/stub/libgcc_tm.h
CC=m68k-elf-gcc
CF="-O2 -g0 -fbuilding-libgcc -DIN_LIBGCC2 -Dinhibit_libc -fno-stack-protector -ffunction-sections -fdata-sections -w -I lg/stub -I $G/libgcc -I $G/gcc -I $G/include"
# libgcc/config/m68k/t-floatlib
for f in _mulsi3 _udivsi3 _divsi3 _umodsi3 _modsi3 _double _float _floatex \
         _eqdf2 _nedf2 _gtdf2 _gedf2 _ltdf2 _ledf2 _eqsf2 _nesf2 _gtsf2 _gesf2 _ltsf2 _lesf2; do
  $CC -c -DL$f -x assembler-with-cpp "$G/libgcc/config/m68k/lb1sf68.S" -o "lg/obj/lb1$f.o"
done
$CC $CF -c "$G/libgcc/config/m68k/fpgnulib.c" -o lg/obj/fpgnulib.o
$CC $CF -DEXTFLOAT -c "$G/libgcc/config/m68k/fpgnulib.c" -o lg/obj/xfgnulib.o
# libgcc/Makefile.in: lib2funcs, the DI/SI/XF conversions and LIB2_DIVMOD_FUNCS
for f in _muldi3 _negdi2 _lshrdi3 _ashldi3 _ashrdi3 _cmpdi2 _ucmpdi2 _absvsi2 _absvdi2 \
         _addvsi3 _addvdi3 _subvsi3 _subvdi3 _mulvsi3 _mulvdi3 _negvsi2 _negvdi2 _ffssi2 _ffsdi2 \
         _clz _clzsi2 _clzdi2 _ctzsi2 _ctzdi2 _popcount_tab _popcountsi2 _popcountdi2 \
         _paritysi2 _paritydi2 _powisf2 _powidf2 _powixf2 _mulsc3 _muldc3 _mulxc3 \
         _divsc3 _divdc3 _divxc3 _bswapsi2 _bswapdi2 _clrsbsi2 _clrsbdi2 \
         _fixunssfsi _fixunsdfsi _fixunsxfsi _fixsfdi _fixdfdi _fixxfdi _fixunssfdi _fixunsdfdi \
         _fixunsxfdi _floatdisf _floatdidf _floatdixf _floatundisf _floatundidf _floatundixf \
         _divdi3 _moddi3 _divmoddi4 _udivdi3 _umoddi3 _udivmoddi4 _udiv_w_sdiv; do
  $CC $CF -DL$f -c "$G/libgcc/libgcc2.c" -o "lg/obj/l2$f.o"
done

# --- install into guest/lib ------------------------------------------------------------
mkdir -p "$OUT"
rm -rf "$OUT/include" "$OUT"/*.a
cp -r nl-install/m68k-elf/include "$OUT/include"
cp nl-install/m68k-elf/lib/libc.a nl-install/m68k-elf/lib/libm.a "$OUT/"
m68k-linux-gnu-ar rcsD "$OUT/libgcc.a" $(ls lg/obj/*.o | LC_ALL=C sort)
# newlib's own archives carry timestamps: rewrite them deterministically
for lib in libc libm; do
  rm -rf "ar-$lib" && mkdir "ar-$lib"
  ( cd "ar-$lib" && m68k-linux-gnu-ar x "$OUT/$lib.a" && rm -f "$OUT/$lib.a" \
    && m68k-linux-gnu-ar rcsD "$OUT/$lib.a" $(m68k-linux-gnu-ar t "$WORK/nl-install/m68k-elf/lib/$lib.a") )
done
find "$OUT/include" -exec touch -h -d @0 {} +
{ m68k-linux-gnu-gcc --version | head -n 1; basename "$NEWLIB_TAR"; basename "$GCC_TAR"; } > "$OUT/VERSIONS"
echo "build-libc: $OUT: $(ls "$OUT")"
