/* Seed for the ELF fuzzer: a tiny object shaped like glibc's libc.so.6 where it matters to the
   analysis. It defines __libc_start_main (the marker of a libc), longjmp and _longjmp calling a
   local __longjmp that restores a mangled %rsp (ror/xor, as glibc does) and setcontext, which
   switches to a ucontext's stack and reads the resume address through it afterwards. Modelled
   on Debian 12's glibc 2.36; libc.so.6 itself (1.9 MB) is too large to fuzz at speed. */

	.text
	.globl	__libc_start_main
	.type	__libc_start_main, @function
__libc_start_main:
	xor	%eax, %eax
	ret
	.size	__libc_start_main, .-__libc_start_main

	.p2align 4
	.globl	_longjmp
	.type	_longjmp, @function
_longjmp:
	push	%rbp
	mov	%rdi, %rbp
	push	%rbx
	mov	%esi, %ebx
	sub	$8, %rsp
	test	%ebx, %ebx
	mov	$1, %eax
	mov	%rbp, %rdi
	cmove	%eax, %ebx
	mov	%ebx, %esi
	call	__longjmp
	.size	_longjmp, .-_longjmp
	.weak	longjmp
	.set	longjmp, _longjmp

	.p2align 4
	.type	__longjmp, @function
__longjmp:
	mov	0x30(%rdi), %r8
	mov	0x8(%rdi), %r9
	mov	0x38(%rdi), %rdx
	ror	$0x11, %r8
	xor	%fs:0x30, %r8
	ror	$0x11, %r9
	xor	%fs:0x30, %r9
	ror	$0x11, %rdx
	xor	%fs:0x30, %rdx
	mov	(%rdi), %rbx
	mov	0x10(%rdi), %r12
	mov	0x18(%rdi), %r13
	mov	0x20(%rdi), %r14
	mov	0x28(%rdi), %r15
	mov	%esi, %eax
	mov	%r8, %rsp
	mov	%r9, %rbp
	jmp	*%rdx
	.size	__longjmp, .-__longjmp

	.p2align 4
	.weak	setcontext
	.type	setcontext, @function
setcontext:
	push	%rdi
	lea	0x128(%rdi), %rsi
	xor	%edx, %edx
	mov	$2, %edi
	mov	$8, %r10d
	mov	$14, %eax
	syscall
	pop	%rdx
	cmp	$-4095, %rax
	jae	1f
	mov	0xe0(%rdx), %rcx
	fldenv	(%rcx)
	ldmxcsr	0x1c0(%rdx)
	mov	0xa0(%rdx), %rsp	/* the stack switch */
	mov	0x80(%rdx), %rbx
	mov	0x78(%rdx), %rbp
	mov	0x48(%rdx), %r12
	mov	0x50(%rdx), %r13
	mov	0x58(%rdx), %r14
	mov	0x60(%rdx), %r15
	mov	0xa8(%rdx), %rcx	/* stale: the resume address */
	push	%rcx
	mov	0x70(%rdx), %rsi
	mov	0x68(%rdx), %rdi
	mov	0x98(%rdx), %rcx
	mov	0x28(%rdx), %r8
	mov	0x30(%rdx), %r9
	mov	0x88(%rdx), %rdx
	xor	%eax, %eax
	ret
1:	or	$-1, %rax
	ret
	.size	setcontext, .-setcontext

	/* A caller through the PLT, so that the object has a lazy relocation for setcontext. */
	.globl	makecontext_start
	.type	makecontext_start, @function
makecontext_start:
	mov	%rbx, %rdi
	call	setcontext@PLT
	hlt
	.size	makecontext_start, .-makecontext_start
