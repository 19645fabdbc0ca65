//! Multiboot2 header and the 32-bit entry stub that enters long mode.
//!
//! GRUB jumps to `_start` in 32-bit protected mode with paging off, EAX = the multiboot2 magic
//! and EBX = the physical address of the boot information. The stub:
//! 1. checks that the CPU has long mode (and NX), printing a clear error on COM1 and the
//!    VGA screen if not;
//! 2. builds boot page tables with 2 MiB pages: identity for the first 4 GiB (so this code keeps
//!    running), the same 4 GiB at the direct map base, and the first 1 GiB at the kernel base;
//! 3. enables PAE, long mode, NX and paging, loads a 64-bit GDT and far-jumps to 64-bit code;
//! 4. switches to the higher-half boot stack and calls `kmain(magic, boot_info_phys)`.
//!
//! Rust then replaces these tables with its own (see `paging.rs`).

use core::arch::global_asm;

global_asm!(
    r#"
    .set MB2_MAGIC, 0xe85250d6
    .set MB2_ARCH_I386, 0
    .set KERNEL_OFFSET, 0xffffffff80000000
    .set DIRECT_MAP_PML4_INDEX, 256

    .section .multiboot2_header, "a"
    .balign 8
mb2_header_start:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header_start
    .long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header_start))

    /* No framebuffer tag: GRUB then leaves BIOS machines in VGA text mode, and UEFI machines
       (which have no text mode) in their GOP graphics mode. Either way it reports the screen in
       the framebuffer information tag. */

    /* Module alignment tag: modules start on page boundaries. */
    .balign 8
    .short 6
    .short 0
    .long 8

    /* End tag. */
    .balign 8
    .short 0
    .short 0
    .long 8
mb2_header_end:

    .section .boot.bss, "aw", @nobits
    .balign 4096
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
boot_tables_end:
boot_stack32:   .skip 1024
boot_stack32_top:

    .section .boot.rodata, "a"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code, ring 0 */
    .quad 0x00cf92000000ffff    /* 0x10: data, ring 0 */
boot_gdt_end:
boot_gdt_pointer:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
no_long_mode_message:
    .asciz "lux9: panic: this CPU has no x86_64 long mode (or no NX bit); Lux9 needs a 64-bit CPU\r\n"

    .section .boot.text, "ax"
    .code32
    .global _start
_start:
    cli
    cld
    mov %eax, %edi                  /* multiboot2 magic, checked in Rust */
    mov %ebx, %esi                  /* boot information physical address */
    mov $boot_stack32_top, %esp

    /* Long mode and NX are required (NX keeps data pages non-executable). */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode
    test $(1 << 20), %edx
    jz no_long_mode

    /* Zero the tables: GRUB zeroes NOLOAD memory, but do not rely on it. */
    push %edi
    mov $boot_pml4, %edi
    mov $((boot_tables_end - boot_pml4) / 4), %ecx
    xor %eax, %eax
    rep stosl
    pop %edi

    /* PML4: identity (0) and direct map (256) share the low PDPT; 511 holds the kernel. */
    mov $boot_pdpt_low, %eax
    or $0x3, %eax
    mov %eax, boot_pml4
    mov %eax, boot_pml4 + DIRECT_MAP_PML4_INDEX * 8
    mov $boot_pdpt_high, %eax
    or $0x3, %eax
    mov %eax, boot_pml4 + 511 * 8

    /* Low PDPT: four page directories cover 4 GiB. High PDPT entry 510 maps the first GiB at
       0xffffffff80000000. */
    mov $boot_pd, %eax
    or $0x3, %eax
    mov %eax, boot_pdpt_low
    mov %eax, boot_pdpt_high + 510 * 8
    add $4096, %eax
    mov %eax, boot_pdpt_low + 8
    add $4096, %eax
    mov %eax, boot_pdpt_low + 16
    add $4096, %eax
    mov %eax, boot_pdpt_low + 24

    /* 2048 2 MiB pages: present, writable, huge. */
    xor %ecx, %ecx
1:
    mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, boot_pd(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(1 << 5), %eax              /* PAE */
    mov %eax, %cr4
    mov $0xc0000080, %ecx           /* EFER */
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax /* LME, NXE */
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax /* PG, WP, PE */
    mov %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

no_long_mode:
    mov $no_long_mode_message, %esi
    mov $0xb8000, %edi
2:
    movb (%esi), %al
    test %al, %al
    jz 4f
    mov $0x3fd, %dx                 /* wait for the COM1 transmitter */
3:
    inb %dx, %al
    test $0x20, %al
    jz 3b
    movb (%esi), %al
    mov $0x3f8, %dx
    outb %al, %dx
    cmp $0x20, %al                  /* control characters are not drawn on the screen */
    jb 5f
    movb %al, (%edi)
    movb $0x4f, 1(%edi)
    add $2, %edi
5:
    inc %esi
    jmp 2b
4:
    cli
    hlt
    jmp 4b

    .code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    mov %edi, %edi                  /* zero-extend magic and boot info address */
    mov %esi, %esi
    movabs $__boot_stack_top, %rsp
    xor %ebp, %ebp
    movabs ${kmain}, %rax
    call *%rax
6:
    cli
    hlt
    jmp 6b

    /* The boot stack, with an unmapped guard page below it once Rust's tables are live. */
    .section .bss.stack, "aw", @nobits
    .balign 4096
    .global __boot_stack_guard
__boot_stack_guard:
    .skip 4096
    .global __boot_stack_bottom
__boot_stack_bottom:
    .skip 64 * 1024
    .global __boot_stack_top
__boot_stack_top:
    "#,
    kmain = sym crate::kmain,
    options(att_syntax)
);
