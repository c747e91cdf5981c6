// Never ends by itself: for the wall limit and stop().
    .code64
    .text
    .globl _start
_start:
1:  pause
    jmp 1b
