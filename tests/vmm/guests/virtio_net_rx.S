// virtio-net RX through the real device, woken by its interrupt: brings the NIC at 0xd0000000
// up (virtio_net_driver.inc), posts one device-writable RX buffer, says so (result 1), and
// sleeps in HLT until the interrupt comes — along the whole path a Linux guest uses: the
// transport's irqfd pulses GSI 5, the in-kernel IOAPIC's redirection entry 5 (which we program)
// sends vector NET_VECTOR to the local APIC (which we enable), and our IDT's handler reads
// InterruptStatus, acknowledges it and sends the EOI. The 8259 PIC, to which KVM routes GSI 5
// as well, is masked and so is LINT0, so no interrupt can arrive any other way.
// Reports (test port offsets): the device features, Status, the used length, how many
// interrupts the handler took, the InterruptStatus bits it saw, and an FNV-1a hash of the
// received frame; then resets through the i8042.
    .code64
    .text
    .globl _start
_start:
    jmp main

#include "virtio_net_driver.inc"

#define R_INTERRUPTS 20
#define R_INTERRUPT_STATUS 24
#define R_FRAME_HASH 28  // also: what an unexpected interrupt or exception left on the stack

#define IDT 0x200000
#define NET_VECTOR 0x40
#define SPURIOUS_VECTOR 0xff
#define LAPIC 0xfee00000  // the architectural default base; IA32_APIC_BASE is left alone
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_LVT0 0x350
#define IOAPIC 0xfec00000
#define IOAPIC_IOWIN 0x10
#define IOAPIC_REDTBL 0x10  // entry n: registers 0x10 + 2n (low) and 0x11 + 2n (high)
#define VIRTIO_GSI 5        // device 0 (layout::kVirtioFirstGsi)
#define VAR_INTERRUPTS (VARS + 0)
#define VAR_INTERRUPT_STATUS (VARS + 4)

main:
    call setup_idt
    call setup_interrupt_controllers
    call virtio_init

    // One device-writable buffer for a whole frame and its header (§5.1.6.3: without
    // VIRTIO_NET_F_MRG_RXBUF every buffer holds a complete packet).
    xor %esi, %esi
    mov $RXQ, %edi
    mov $RX_BUF, %eax
    mov $RX_BUF_LEN, %ecx
    mov $DESC_F_WRITE, %edx
    call post_buffer
    mov $1, %eax
    report R_RESULT  // the test sends its frame into the TAP now

    // Sleep until the handler has run. STI's one-instruction shadow makes "sti; hlt" atomic:
    // an interrupt pending at the STI is taken after the HLT starts and ends it, never lost
    // between the check and the HLT.
1:  cli
    cmpl $0, VAR_INTERRUPTS
    jne 2f
    sti
    hlt
    jmp 1b
2:  mov $RXQ, %edi
    call check_used
    report R_USED_LEN
    mov %eax, %ecx
    // The header the device wrote (§5.1.6.4): no flags, no GSO, num_buffers 1.
    cmpq $0, RX_BUF
    jne bad_header
    cmpl $0x00010000, RX_BUF + 8
    jne bad_header
    // FNV-1a (32-bit) over the frame after the header, so the test can check every byte.
    sub $NET_HDR_LEN, %ecx
    jbe bad_header  // nothing after the header
    mov $(RX_BUF + NET_HDR_LEN), %rsi
    mov $0x811c9dc5, %eax
3:  movzbl (%rsi), %edx
    xor %edx, %eax
    imul $0x01000193, %eax, %eax
    inc %rsi
    dec %ecx
    jnz 3b
    report R_FRAME_HASH
    movl VAR_INTERRUPTS, %eax
    report R_INTERRUPTS
    movl VAR_INTERRUPT_STATUS, %eax
    report R_INTERRUPT_STATUS
    movl STATUS(%rbx), %eax
    report R_STATUS
    mov $DONE, %eax
    report R_RESULT
    jmp reset
bad_header:
    fail BAD_NET_HDR

// The virtio interrupt (vm_interrupt() in Linux's virtio_mmio.c does the same): read the
// causes, acknowledge them (§4.2.2 InterruptACK), count, then EOI the local APIC.
net_irq:
    push %rax
    push %rbx
    push %rdx
    mov $VIRTIO_BASE, %rbx
    movl INTERRUPT_STATUS(%rbx), %eax
    orl %eax, VAR_INTERRUPT_STATUS
    movl %eax, INTERRUPT_ACK(%rbx)
    incl VAR_INTERRUPTS
    mov $LAPIC, %rdx
    movl $0, LAPIC_EOI(%rdx)
    pop %rdx
    pop %rbx
    pop %rax
    iretq

// The local APIC's spurious vector: no EOI (Intel SDM vol. 3 §10.9).
spurious_irq:
    iretq

// Anything else (an exception, a stray vector): report what is on top of the stack (the error
// code or the interrupted RIP) and give up.
unexpected_irq:
    mov (%rsp), %rax
    report R_FRAME_HASH
    fail BAD_INTERRUPT

// A 256-entry IDT: every vector to unexpected_irq but NET_VECTOR and SPURIOUS_VECTOR.
setup_idt:
    mov $IDT, %rdi
    mov $256, %ecx
    lea unexpected_irq(%rip), %rax
1:  call write_gate
    add $16, %rdi
    dec %ecx
    jnz 1b
    mov $(IDT + 16 * NET_VECTOR), %rdi
    lea net_irq(%rip), %rax
    call write_gate
    mov $(IDT + 16 * SPURIOUS_VECTOR), %rdi
    lea spurious_irq(%rip), %rax
    call write_gate
    // LIDT takes a 10-byte limit:base pseudo-descriptor.
    sub $16, %rsp
    movw $(256 * 16 - 1), (%rsp)
    movq $IDT, 2(%rsp)
    lidt (%rsp)
    add $16, %rsp
    ret

// write_gate: %rdi = IDT entry, %rax = handler. A 64-bit interrupt gate (Intel SDM vol. 3
// §6.14.1): offset 15:0, selector, IST 0, type 0xe with P=1 DPL=0, offset 31:16, offset 63:32.
write_gate:
    mov %ax, 0(%rdi)
    mov %cs, %dx  // the code segment we run in (the monitor's __BOOT_CS)
    mov %dx, 2(%rdi)
    movw $0x8e00, 4(%rdi)
    mov %rax, %rdx
    shr $16, %rdx
    mov %dx, 6(%rdi)
    shr $16, %rdx
    movl %edx, 8(%rdi)
    movl $0, 12(%rdi)
    ret

setup_interrupt_controllers:
    // Mask every 8259 input (OCW1 to both PICs): KVM's default routing sends GSIs below 16 to
    // the PIC too, and its output reaches the CPU through LINT0 as ExtINT.
    mov $0xff, %al
    out %al, $0x21
    out %al, $0xa1
    // The local APIC: software-enabled with the spurious vector (SVR), every priority accepted
    // (TPR 0), LINT0 masked so that only the IOAPIC path is left.
    mov $LAPIC, %rdx
    movl $(0x100 | SPURIOUS_VECTOR), LAPIC_SVR(%rdx)
    movl $0, LAPIC_TPR(%rdx)
    movl $0x10000, LAPIC_LVT0(%rdx)
    // IOAPIC redirection entry VIRTIO_GSI (82093AA datasheet §3.2.4): high dword first (the
    // destination, APIC ID 0 = this vCPU), then the low dword, which unmasks it: fixed
    // delivery, physical destination, active high, edge triggered (the irqfd pulses the pin),
    // vector NET_VECTOR.
    mov $IOAPIC, %rdx
    movl $(IOAPIC_REDTBL + 2 * VIRTIO_GSI + 1), (%rdx)
    movl $0, IOAPIC_IOWIN(%rdx)
    movl $(IOAPIC_REDTBL + 2 * VIRTIO_GSI), (%rdx)
    movl $NET_VECTOR, IOAPIC_IOWIN(%rdx)
    ret
