// virtio-net TX through the real device (vmm/kvm/virtio/net_device.cpp behind MmioTransport):
// brings the NIC at 0xd0000000 up (virtio_net_driver.inc), sends one Ethernet frame on the TX
// queue — broadcast, from the MAC in the device's configuration space, ethertype 0x88b5 (IEEE
// local experimental), payload "berth-tx" — and polls until the device has used it. The test
// catches the frame on the TAP's host side. Reports (test port offsets): the device features,
// Status, the used length, InterruptStatus and the configuration space's first 8 bytes; then
// resets through the i8042.
    .code64
    .text
    .globl _start
_start:
    jmp main

#include "virtio_net_driver.inc"

#define R_INTERRUPT_STATUS 20
#define R_CONFIG_LO 24  // mac[0..3]
#define R_CONFIG_HI 28  // mac[4..5], status (VIRTIO_NET_S_LINK_UP = 1)
#define FRAME_LEN 60    // the Ethernet minimum without FCS; the payload is zero-padded

main:
    call virtio_init
    // The device's MAC (§5.1.4; offered with VIRTIO_NET_F_MAC, which we accepted).
    movl CONFIG(%rbx), %eax
    report R_CONFIG_LO
    movl CONFIG + 4(%rbx), %eax
    report R_CONFIG_HI

    // The TX buffer: a zeroed virtio_net_hdr (no offloads negotiated, §5.1.6.2) and the frame,
    // copied from the template below with our MAC as the source address.
    lea frame(%rip), %rsi
    mov $(TX_BUF + NET_HDR_LEN), %rdi
    mov $FRAME_LEN, %ecx
    cld
    rep movsb
    movl CONFIG(%rbx), %eax
    movl %eax, TX_BUF + NET_HDR_LEN + 6
    movl CONFIG + 4(%rbx), %eax
    movw %ax, TX_BUF + NET_HDR_LEN + 10

    // One device-readable descriptor: header and frame (§5.1.6.2).
    mov $1, %esi
    mov $TXQ, %edi
    mov $TX_BUF, %eax
    mov $(NET_HDR_LEN + FRAME_LEN), %ecx
    xor %edx, %edx
    call post_buffer

    // Poll the used ring (interrupts stay off in this guest: the RX guest takes the IRQ path).
1:  movzwl TXQ + USED + 2, %eax
    test %eax, %eax
    jnz 2f
    pause
    jmp 1b
2:  mov $TXQ, %edi
    call check_used
    report R_USED_LEN
    // The device raised "used buffer" (§4.2.2 InterruptStatus bit 0); acknowledge it.
    movl INTERRUPT_STATUS(%rbx), %eax
    report R_INTERRUPT_STATUS
    movl %eax, INTERRUPT_ACK(%rbx)
    movl STATUS(%rbx), %eax
    report R_STATUS
    mov $DONE, %eax
    report R_RESULT
    jmp reset

frame:
    .byte 0xff, 0xff, 0xff, 0xff, 0xff, 0xff  // destination: broadcast
    .byte 0, 0, 0, 0, 0, 0                    // source: filled in from the configuration space
    .byte 0x88, 0xb5                          // ethertype, big endian
    .ascii "berth-tx"
    .fill FRAME_LEN - 14 - 8, 1, 0
