// Interrupts off, then hlt: with the in-kernel LAPIC the vCPU sleeps in KVM for good; stop()
// must still end it.
    .code64
    .text
    .globl _start
_start:
    cli
1:  hlt
    jmp 1b
