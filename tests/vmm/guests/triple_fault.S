// An undefined instruction with an IDT of not-present entries: #UD -> #NP -> #DF -> triple
// fault, which KVM reports as KVM_EXIT_SHUTDOWN.
    .code64
    .text
    .globl _start
_start:
    ud2
