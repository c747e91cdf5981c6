// A guest poking where nothing is: writes to unknown ports, reads from them, a string write
// (rep outsb) to an unknown port, reads and writes of unmapped MMIO in the 32-bit gap. Reports
// what the reads returned on the test port (offset 0: port 0x2f8 byte, 8: MMIO dword), then
// resets: the monitor must have survived all of it.
    .code64
    .text
    .globl _start
_start:
    mov $0x1234, %dx
    mov $0xdeadbeef, %eax
    out %eax, %dx
    out %al, $0x80
    mov $0xcf8, %dx
    out %eax, %dx           // PCI config address: nobody home
    lea _start(%rip), %rsi
    mov $64, %rcx
    mov $0x4321, %dx
    rep outsb
    mov $0x2f8, %dx         // COM2: absent
    in %dx, %al
    movzbl %al, %eax
    mov $0x510, %dx
    out %eax, %dx
    mov $0xd0000000, %rbx   // where virtio device 0 would be, none configured
    movl (%rbx), %eax
    movl $0x12345678, 4(%rbx)
    mov $0xe0000000, %rbx
    movq %rax, (%rbx)
    movl (%rbx), %eax
    mov $0x518, %dx
    out %eax, %dx
    mov $0xfe, %al
    out %al, $0x64
1:  hlt
    jmp 1b
