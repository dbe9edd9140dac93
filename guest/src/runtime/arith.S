/* arith.S: the integer helpers gcc calls for the 68010 (it has only
 * 16x16->32 multiply and 32/16 divide). Replaces libgcc, whose Debian build
 * targets the 68020. Not provided: 64-bit (long long) helpers; guest code
 * avoids long long.
 *
 * C ABI: arguments on the stack, result in d0; d0, d1, a0, a1 are scratch.
 */

	.text

/* long __mulsi3(long a, long b): the low 32 bits of a * b (signed or not).
 * a = ah:al, b = bh:bl; a*b mod 2^32 = al*bl + ((ah*bl + al*bh) << 16). */
	.globl	__mulsi3
	.type	__mulsi3,@function
__mulsi3:
	move.w	4(%sp),%d0		/* ah */
	mulu.w	10(%sp),%d0		/* ah * bl */
	move.w	6(%sp),%d1		/* al */
	mulu.w	8(%sp),%d1		/* al * bh */
	add.w	%d1,%d0			/* only the low 16 bits survive the shift */
	swap	%d0
	clr.w	%d0			/* (ah*bl + al*bh) << 16 */
	move.w	6(%sp),%d1
	mulu.w	10(%sp),%d1		/* al * bl */
	add.l	%d1,%d0
	rts
	.size	__mulsi3,.-__mulsi3

/* unsigned long __udivsi3(unsigned long n, unsigned long d)
 * d < 2^16: two divu steps (high half, then remainder:low half).
 * d >= 2^16: shift both until d fits 16 bits, divide, and correct the
 * estimate (it is the true quotient or one too large).
 * d = 0 executes divu by zero: the divide-by-zero exception (vector 5). */
	.globl	__udivsi3
	.type	__udivsi3,@function
__udivsi3:
	move.l	%d2,-(%sp)
	move.l	12(%sp),%d1		/* d */
	move.l	8(%sp),%d0		/* n */
	cmp.l	#0x10000,%d1
	bcc.s	.Lbig
	/* small divisor */
	move.l	%d0,%d2
	clr.w	%d2
	swap	%d2			/* d2 = n >> 16 */
	divu.w	%d1,%d2			/* d2 = rem : high quotient */
	move.w	%d2,%d0			/* d0.w = high quotient */
	swap	%d0			/* d0 = high quotient << 16 */
	move.w	10(%sp),%d2		/* d2 = rem : low half of n */
	divu.w	%d1,%d2			/* d2 = rem : low quotient */
	move.w	%d2,%d0
	bra.s	.Ldone
.Lbig:	/* d >= 2^16, so the quotient fits 16 bits */
	move.l	%d1,%d2			/* keep d */
.Lshift:
	lsr.l	#1,%d1
	lsr.l	#1,%d0
	cmp.l	#0x10000,%d1
	bcc.s	.Lshift
	divu.w	%d1,%d0
	and.l	#0xffff,%d0		/* estimate q (never too small) */
	/* q * d as a 33-bit value: too large if > n */
	move.l	%d2,%d1
	mulu.w	%d0,%d1			/* q * (d & 0xffff) */
	swap	%d2
	mulu.w	%d0,%d2			/* q * (d >> 16), at most 17 bits */
	swap	%d2
	tst.w	%d2			/* bit 16 of the high product set: too large */
	bne.s	.Lfix
	add.l	%d2,%d1
	bcs.s	.Lfix			/* carry out: too large */
	cmp.l	8(%sp),%d1
	bls.s	.Ldone			/* q * d <= n: q is right */
.Lfix:	subq.l	#1,%d0
.Ldone:	move.l	(%sp)+,%d2
	rts
	.size	__udivsi3,.-__udivsi3

/* long __divsi3(long n, long d): truncating signed division. */
	.globl	__divsi3
	.type	__divsi3,@function
__divsi3:
	move.l	%d2,-(%sp)
	moveq	#0,%d2			/* bit 0: negate the result */
	move.l	8(%sp),%d0
	bpl.s	1f
	neg.l	%d0
	eor.b	#1,%d2
1:	move.l	12(%sp),%d1
	bpl.s	2f
	neg.l	%d1
	eor.b	#1,%d2
2:	move.l	%d1,-(%sp)
	move.l	%d0,-(%sp)
	bsr	__udivsi3
	addq.l	#8,%sp
	tst.b	%d2
	beq.s	3f
	neg.l	%d0
3:	move.l	(%sp)+,%d2
	rts
	.size	__divsi3,.-__divsi3

/* unsigned long __umodsi3(unsigned long n, unsigned long d) = n - (n/d)*d */
	.globl	__umodsi3
	.type	__umodsi3,@function
__umodsi3:
	move.l	8(%sp),-(%sp)		/* d */
	move.l	8(%sp),-(%sp)		/* n */
	bsr	__udivsi3
	addq.l	#8,%sp
	move.l	8(%sp),-(%sp)		/* d */
	move.l	%d0,-(%sp)		/* q */
	bsr	__mulsi3
	addq.l	#8,%sp
	move.l	4(%sp),%d1
	sub.l	%d0,%d1
	move.l	%d1,%d0
	rts
	.size	__umodsi3,.-__umodsi3

/* long __modsi3(long n, long d) = n - (n/d)*d: the sign follows n. */
	.globl	__modsi3
	.type	__modsi3,@function
__modsi3:
	move.l	8(%sp),-(%sp)		/* d */
	move.l	8(%sp),-(%sp)		/* n */
	bsr	__divsi3
	addq.l	#8,%sp
	move.l	8(%sp),-(%sp)		/* d */
	move.l	%d0,-(%sp)		/* q */
	bsr	__mulsi3
	addq.l	#8,%sp
	move.l	4(%sp),%d1
	sub.l	%d0,%d1
	move.l	%d1,%d0
	rts
	.size	__modsi3,.-__modsi3

	.section .note.GNU-stack,"",@progbits
