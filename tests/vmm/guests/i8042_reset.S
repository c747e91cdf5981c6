// The whole of Linux's `reboot=k`: wait for the input buffer to drain, then command 0xFE.
    .code64
    .text
    .globl _start
_start:
1:  in $0x64, %al
    test $0x02, %al
    jnz 1b
    mov $0xfe, %al
    out %al, $0x64
2:  hlt
    jmp 2b
