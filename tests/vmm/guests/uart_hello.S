// Prints "hello\n" on COM1 (polling LSR.THRE as a driver would), then resets.
    .code64
    .text
    .globl _start
_start:
    lea msg(%rip), %rsi
next:
    movb (%rsi), %bl
    test %bl, %bl
    jz done
    mov $0x3fd, %dx         // LSR
wait:
    in %dx, %al
    test $0x20, %al         // THRE
    jz wait
    mov $0x3f8, %dx
    mov %bl, %al
    out %al, %dx
    inc %rsi
    jmp next
done:
    mov $0xfe, %al
    out %al, $0x64
1:  hlt
    jmp 1b
msg:
    .asciz "hello\n"
