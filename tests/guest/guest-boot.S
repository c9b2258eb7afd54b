/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest-boot.S: multiboot v1 entry of the test guest, and its interrupt stubs.
 *
 * The boot loader (QEMU's -kernel) enters _start in 32-bit protected mode
 * with paging off, EAX = multiboot magic and EBX = the multiboot information
 * (which holds the command line). The multiboot spec does not promise a
 * usable GDT, and interrupt gates need a code selector we know, so we load
 * our own flat GDT before anything else.
 */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000000 /* an ELF image: no address fields, no memory map needed */

#define SEL_CODE 0x08
#define SEL_DATA 0x10

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .bss
        .align 16
stack_bottom:
        .skip 16384
stack_top:

        .section .rodata
        .align 8
gdt:
        .quad 0                  /* null descriptor */
        .quad 0x00cf9a000000ffff /* SEL_CODE: base 0, limit 4 GiB, 32-bit, execute/read */
        .quad 0x00cf92000000ffff /* SEL_DATA: base 0, limit 4 GiB, read/write */
gdt_end:
gdt_desc:
        .word gdt_end - gdt - 1
        .long gdt

        .section .text
        .globl _start
_start:
        cli
        cld /* the C ABI expects it; the loader does not promise it */
        lgdt gdt_desc
        ljmp $SEL_CODE, $1f
1:
        mov $SEL_DATA, %cx
        mov %cx, %ds
        mov %cx, %es
        mov %cx, %fs
        mov %cx, %gs
        mov %cx, %ss
        mov $stack_top, %esp
        push %ebx /* guest_main(magic, info) */
        push %eax
        call guest_main
halt:
        cli
        hlt
        jmp halt

/*
 * Interrupts and iret.
 *
 * Interrupts are only ever enabled inside cpu_idle's "sti; hlt", so every
 * interrupt that is taken interrupted that hlt, and its handler can drop the
 * frame and carry on at idle_resume instead of returning with iret. That is
 * not a trick for its own sake: some KVM backends (kvm_pvm, seen on a nested
 * host) run this guest through KVM's instruction emulator, which cannot
 * emulate a protected-mode iret, and the guest must run under KVM as well as
 * under TCG. The same holds for popf, which cannot set IF in every backend.
 */

/* void cpu_idle(void): sleep until the next interrupt. */
        .globl cpu_idle
cpu_idle:
        sti
        hlt
        /* Only reached if hlt returned without an interrupt. */
        cli
idle_resume:
        ret

/*
 * Checks that the interrupted EIP (at 4(%esp), under the saved EAX) is in
 * cpu_idle's window; anything else means IF was set elsewhere, a bug.
 */
.macro CHECK_IN_IDLE
        cmpl $cpu_idle, 4(%esp)
        jb isr_outside_idle
        cmpl $idle_resume, 4(%esp)
        ja isr_outside_idle
.endm

/* IRQ0, the PIT's 1 kHz wake-up: acknowledge it and resume after hlt. */
        .globl isr_timer
isr_timer:
        push %eax
        CHECK_IN_IDLE
        mov $0x20, %al
        outb %al, $0x20
        pop %eax
        add $12, %esp /* EIP, CS, EFLAGS: IF stays clear, as outside cpu_idle it must */
        jmp idle_resume

/*
 * Every other IRQ is masked; what still arrives is a spurious IRQ7 or IRQ15,
 * which must not be acknowledged.
 */
        .globl isr_ignore
isr_ignore:
        push %eax
        CHECK_IN_IDLE
        pop %eax
        add $12, %esp
        jmp idle_resume

isr_outside_idle:
        cli
        call guest_fault_irq
        jmp halt

/* A CPU exception is a bug in this kernel: say so on the console and stop. */
        .globl isr_fault
isr_fault:
        cli
        call guest_fault
        jmp halt

        .section .note.GNU-stack, "", @progbits
