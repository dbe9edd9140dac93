/* crt0.S: the entry point of every guest program (docs/ABI.md, "Entry").
 *
 * The kernel starts us in user mode with
 *     sp -> argc, argv, envp, venv, ... (arrays and strings above)
 * A jsr pushes the return address, which leaves exactly the C layout for
 *     void __vstart(int argc, char **argv, char **envp, struct venv *venv)
 * (4(sp) = argc, 8(sp) = argv, ...). __vstart sets _venv, calls main and
 * exit(main's result); it never returns.
 */
	.section .text.start,"ax",@progbits
	.globl	_start
	.type	_start,@function
_start:
	sub.l	%a6,%a6			/* no frame above this one */
	jsr	__vstart
	/* not reached: exit for good */
1:	moveq	#0,%d0			/* SYS_EXIT */
	moveq	#127,%d1
	trap	#0
	bra.s	1b
	.size	_start,.-_start

	.section .note.GNU-stack,"",@progbits
