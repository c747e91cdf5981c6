// Talks to a virtio-mmio device at 0xd0000000 (the test's stand-in transport): reads its magic
// value and reports it (test port offset 0), notifies queue 1 then queue 0 through QueueNotify
// (0x50) — which the monitor's ioeventfds must deliver to the event loop, not as MMIO exits —
// then waits until the device says it saw both (offset 4 != 0) and resets.
    .code64
    .text
    .globl _start
_start:
    mov $0xd0000000, %rbx
    movl (%rbx), %eax
    mov $0x510, %dx
    out %eax, %dx
    movl $1, 0x50(%rbx)
    movl $0, 0x50(%rbx)
1:  movl 4(%rbx), %eax
    test %eax, %eax
    jz 1b
    mov $0xfe, %al
    out %al, $0x64
2:  hlt
    jmp 2b
