// Reports CR0, CR4 and EFER through the test port (0x510: offset 0 CR0, 8 CR4, 16 EFER, as
// two 32-bit halves each), then resets through the i8042. Proves the vCPU starts in long mode.
    .code64
    .text
    .globl _start
_start:
    mov $0x510, %dx
    mov %cr0, %rax
    call report
    mov %cr4, %rax
    call report
    mov $0xc0000080, %ecx   // IA32_EFER
    rdmsr
    shl $32, %rdx
    or %rdx, %rax
    mov $0x520, %dx         // rdmsr clobbered %edx
    call report
    mov $0xfe, %al
    out %al, $0x64
1:  hlt
    jmp 1b
// %rax -> port %dx (low half) and %dx+4 (high half); %dx advances by 8.
report:
    out %eax, %dx
    add $4, %dx
    shr $32, %rax
    out %eax, %dx
    add $4, %dx
    ret
