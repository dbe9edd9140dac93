/* syscall.S: the trap #0 stubs (docs/ABI.md, "System calls").
 * Number in d0, arguments in d1..d5, result in d0; the kernel preserves
 * every other register (SYS_TIME also returns the microseconds in d1). */

	.text

/* long __vsyscall(long number, long a1, long a2, long a3, long a4, long a5)
 * C passes the six longs on the stack; one movem loads them into d0..d5.
 * d2..d5 are callee-saved in the C ABI, so save them around the trap. */
	.globl	__vsyscall
	.type	__vsyscall,@function
__vsyscall:
	movem.l	%d2-%d5,-(%sp)
	movem.l	20(%sp),%d0-%d5		/* 16 saved + 4 return address */
	trap	#0
	movem.l	(%sp)+,%d2-%d5
	rts
	.size	__vsyscall,.-__vsyscall

/* unsigned long __vtime(unsigned long *us): SYS_TIME, ms in d0 and the
 * microseconds part (0..999) stored through us (never NULL). */
	.globl	__vtime
	.type	__vtime,@function
__vtime:
	moveq	#11,%d0			/* SYS_TIME */
	trap	#0
	move.l	4(%sp),%a0
	move.l	%d1,(%a0)
	rts
	.size	__vtime,.-__vtime

/* void _exit(int status): SYS_EXIT, no flushing. */
	.globl	_exit
	.type	_exit,@function
_exit:
	move.l	4(%sp),%d1
1:	moveq	#0,%d0			/* SYS_EXIT */
	trap	#0
	bra.s	1b			/* does not return; if it did, again */
	.size	_exit,.-_exit

	.section .note.GNU-stack,"",@progbits
