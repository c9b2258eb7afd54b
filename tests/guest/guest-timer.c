/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest-timer.c: a millisecond clock and a way to sleep, from the PIT.
 *
 * Two PIT channels, two jobs. Channel 2 runs free over its full 16-bit range
 * (55 ms per wrap) and is the clock: timer_now_ms() adds up how far it
 * counted since the last read. Channel 0 raises IRQ0 every millisecond only
 * to wake the CPU from hlt; interrupts are off everywhere else (see
 * guest-boot.S for why), so counting them would lose the time spent on disk
 * I/O.
 *
 * A guest that polled instead of halting would keep a host CPU busy, and the
 * integration rig runs several guests next to corosync on two cores: a busy
 * guest would delay heartbeats.
 */
#include "guest.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define IRQ_BASE 0x20 /* IRQ0..15 -> vectors 0x20..0x2f, clear of CPU exceptions */

#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE 0x61 /* bit 0: channel 2 gate, bit 1: speaker (kept off) */
#define PIT_HZ 1193182
#define PIT_PER_MS 1193 /* 0.015% fast; a test guest does not mind */

#define IDT_ENTRIES (IRQ_BASE + 16)
#define SEL_CODE 0x08       /* guest-boot.S's GDT */
#define GATE_INTERRUPT 0x8e /* present, ring 0, 32-bit interrupt gate (clears IF) */

/* guest-boot.S */
void cpu_idle(void);
void isr_timer(void);
void isr_ignore(void);
void isr_fault(void);
/* Called from guest-boot.S before it halts for good. */
void guest_fault(void);
void guest_fault_irq(void);

struct idt_gate {
        uint16_t offset_lo;
        uint16_t selector;
        uint8_t zero;
        uint8_t type;
        uint16_t offset_hi;
} __attribute__((packed));

struct idt_desc {
        uint16_t limit;
        uint32_t base;
} __attribute__((packed));

/* The IDT the CPU reads, and the clock: state the hardware forces on us. */
static struct idt_gate idt[IDT_ENTRIES];
static struct {
        uint16_t last_count; /* channel 2 at the previous read */
        uint32_t ms;         /* whole milliseconds so far */
        uint32_t rest;       /* PIT counts not yet a whole millisecond */
} pit_clock;

static void idt_set(int vector, void (*handler)(void)) {
        uint32_t addr = (uint32_t)handler;

        idt[vector] = (struct idt_gate){
                .offset_lo = (uint16_t)addr,
                .selector = SEL_CODE,
                .type = GATE_INTERRUPT,
                .offset_hi = (uint16_t)(addr >> 16),
        };
}

void guest_fault(void) {
        console_printf("guest: CPU exception, halting\n");
}

void guest_fault_irq(void) {
        console_printf("guest: interrupt outside cpu_idle, halting\n");
}

static void pic_init(void) {
        /* The BIOS leaves IRQ0 on vector 8, which is also #DF: move both PICs. */
        outb(PIC1_CMD, 0x11); /* ICW1: init, ICW4 follows */
        outb(PIC2_CMD, 0x11);
        outb(PIC1_DATA, IRQ_BASE);
        outb(PIC2_DATA, IRQ_BASE + 8);
        outb(PIC1_DATA, 0x04); /* slave on IRQ2 */
        outb(PIC2_DATA, 0x02);
        outb(PIC1_DATA, 0x01); /* 8086 mode */
        outb(PIC2_DATA, 0x01);
        outb(PIC1_DATA, 0xfe); /* only IRQ0 */
        outb(PIC2_DATA, 0xff);
}

static uint16_t read_ch2(void) {
        uint8_t lo, hi;

        outb(PIT_CMD, 0x80); /* latch channel 2 */
        lo = inb(PIT_CH2);
        hi = inb(PIT_CH2);
        return (uint16_t)(hi << 8 | lo);
}

void timer_init(void) {
        struct idt_desc desc = { .limit = sizeof(idt) - 1, .base = (uint32_t)idt };
        uint16_t divisor = (PIT_HZ + 500) / 1000;

        for (int v = 0; v < IRQ_BASE; v++)
                idt_set(v, isr_fault);
        for (int v = IRQ_BASE; v < IDT_ENTRIES; v++)
                idt_set(v, isr_ignore);
        idt_set(IRQ_BASE + 0, isr_timer);
        __asm__ volatile("lidt %0" : : "m"(desc));
        pic_init();

        /* Channel 2: mode 2, reload 0 (= 65536), counting down from now on. */
        outb(PIT_GATE, (uint8_t)((inb(PIT_GATE) & ~0x02) | 0x01));
        outb(PIT_CMD, 0xb4);
        outb(PIT_CH2, 0);
        outb(PIT_CH2, 0);
        pit_clock.last_count = read_ch2();

        /* Channel 0: mode 2 at 1 kHz, the wake-up. */
        outb(PIT_CMD, 0x34);
        outb(PIT_CH0, (uint8_t)divisor);
        outb(PIT_CH0, (uint8_t)(divisor >> 8));
}

uint32_t timer_now_ms(void) {
        uint16_t count = read_ch2();

        /* The counter counts down and wraps at 2^16: the difference is right across a wrap. */
        pit_clock.rest += (uint16_t)(pit_clock.last_count - count);
        pit_clock.last_count = count;
        pit_clock.ms += pit_clock.rest / PIT_PER_MS;
        pit_clock.rest %= PIT_PER_MS;
        return pit_clock.ms;
}

void timer_sleep_until(uint32_t since, uint32_t ms) {
        while (timer_now_ms() - since < ms)
                cpu_idle();
}

uint64_t timer_boot_id(void) {
        uint32_t lo, hi;

        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return (uint64_t)hi << 32 | lo;
}
