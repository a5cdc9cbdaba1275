/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one contract between the BPF programs (bpf/trace.bpf.c) and user space: map values the
 * loader writes, and the records the programs emit. Plain C, fixed-size, no glibc macro names
 * (sa_handler, sa_flags, ...) as field names. Bump UT_EVENTS_VERSION on any layout change.
 */
#ifndef UNWINDTRACE_EVENTS_H
#define UNWINDTRACE_EVENTS_H

#ifndef __BPF__
#include <linux/types.h>
#endif

#define UT_EVENTS_VERSION 5

#define UT_MAX_ROUTINES 4     /* hazardous routines watched per traced process */
#define UT_MAX_WINDOW_INSNS 8 /* window instructions per routine */
#define UT_MAX_ROUTINE_BYTES 4096
#define UT_NO_WINDOW 0xff

/*
 * Index of a general-purpose register in x86-64's struct pt_regs viewed as an array of __u64.
 * The analysis names registers this way so the programs read them without a decoder.
 */
enum ut_reg {
	UT_REG_R15 = 0, UT_REG_R14, UT_REG_R13, UT_REG_R12, UT_REG_BP, UT_REG_BX, UT_REG_R11,
	UT_REG_R10, UT_REG_R9, UT_REG_R8, UT_REG_AX, UT_REG_CX, UT_REG_DX, UT_REG_SI, UT_REG_DI,
	UT_REG_ORIG_AX, UT_REG_IP, UT_REG_CS, UT_REG_FLAGS, UT_REG_SP, UT_REG_SS,
	UT_REG_COUNT
};

/* What a signal at a window instruction corrupts if the kernel's frame overwrites the context. */
enum ut_window_class {
	UT_CLASS_NONE = 0,
	UT_CLASS_REGISTER = 1,       /* a restored register: silent corruption */
	UT_CLASS_RETURN_ADDRESS = 2, /* the resume target: wild return */
};

/* How the kernel was entered when the signal was delivered. */
enum ut_delivery {
	UT_DELIVERY_INTERRUPT = 0, /* interrupt or exception: lands at any instruction */
	UT_DELIVERY_SYSCALL = 1,   /* syscall return (rt_sigreturn's too: where the previous signal was) */
	UT_DELIVERY_KINDS = 2,
};

/* ut_signal_event.flags */
#define UT_SIG_HANDLER 0x01       /* a user handler runs (not SIG_DFL/SIG_IGN) */
#define UT_SIG_SIGINFO 0x02       /* handler installed with SA_SIGINFO */
#define UT_SIG_ONSTACK 0x04       /* handler installed with SA_ONSTACK */
#define UT_SIG_ALTSTACK_SET 0x08  /* thread has a sigaltstack */
#define UT_SIG_ON_ALTSTACK 0x10   /* interrupted SP already on the alternate stack */

/* One instruction at which a signal is a hit (the interrupted IP equals addr). */
struct ut_window_insn {
	__u64 addr;      /* absolute address in the traced process */
	__s32 slot_disp; /* displacement from the context register of the first stale read */
	__u8 cls;        /* enum ut_window_class */
	__u8 pad[3];
};

/* A hazardous routine mapped in a traced process, with its window. */
struct ut_routine {
	__u64 start; /* absolute address range [start, end) of the routine */
	__u64 end;
	__s32 sp_disp;  /* context register + sp_disp holds the target SP */
	__s32 ip_disp;  /* context register + ip_disp holds the target IP */
	__u8 ctx_reg;   /* enum ut_reg: register holding the context pointer */
	__u8 n_window;
	__u8 pad[6];
	struct ut_window_insn window[UT_MAX_WINDOW_INSNS];
};

/* Value of the `targets` map, keyed by tgid. */
struct ut_target {
	__u32 n_routines;
	__u32 pad;
	struct ut_routine routines[UT_MAX_ROUTINES];
};

/* Key of the `signal_counts` map: every signal delivered to a traced thread is counted here. */
struct ut_signal_key {
	__u32 tgid;
	__u32 tid;
	__s32 sig;
	__u32 delivery; /* enum ut_delivery */
};

/* One resume as the probe saw it: what a signal during that resume is joined to. */
struct ut_resume_seen {
	__u64 ctx;       /* context pointer (the ucontext) */
	__u64 target_sp; /* SP the routine switches to */
	__u64 target_ip; /* IP it resumes at */
	__u32 routine;   /* index into ut_target.routines */
	__u32 pad;
};

/*
 * Value of the `threads` map, keyed by tid. The thread's last resume stays here instead of
 * crossing to user space: a signal inside the routine interrupts that very resume, so its event
 * carries it (the join is done in the kernel, exactly, and no resume record can be lost).
 */
struct ut_thread_state {
	__u64 resumes; /* resumes seen so far; the last one has seq == resumes */
	__u32 tgid;
	__u32 period;  /* the trace.bpf.c `resume_period` its last resume was seen in */
	struct ut_resume_seen last;
};

/*
 * Key of the `resume_shapes` per-CPU hash: every resume counted by its geometry (how far the
 * ucontext lies below the target SP, and the target SP's alignment), which with the calibrated
 * frame map decides what a hit during it would overwrite. A process has few distinct shapes.
 */
struct ut_shape_key {
	__u32 tgid;
	__u32 routine;
	__s64 distance; /* target SP - ucontext address */
	__u32 sp_align; /* target SP mod 64 */
	__u32 pad;
};

/* Indexes of a `lost_events` value (per tgid, per CPU): what the programs could not record. */
enum ut_lost_kind {
	UT_LOST_SIGNAL = 0,  /* ring buffer full: a signal event */
	UT_LOST_COUNTER = 1, /* a counter map full: a signal, resume or resume shape went uncounted */
	UT_LOST_KINDS = 2,
};

/* Value of the `lost_events` per-CPU hash, keyed by tgid. */
struct ut_lost_counts {
	__u64 n[UT_LOST_KINDS]; /* indexed by enum ut_lost_kind */
};

enum ut_event_kind { UT_EVENT_SIGNAL = 2 };

struct ut_event_header {
	__u32 kind; /* enum ut_event_kind */
	__u32 tgid;
	__u32 tid;
	__u32 pad;
	__u64 ktime_ns;
};

/* Emitted for each signal delivered while the thread's IP was inside a hazardous routine. */
struct ut_signal_event {
	struct ut_event_header hdr;
	__u64 resume_seq; /* the thread's last resume seq when the signal arrived */
	__u64 ip;         /* interrupted user IP */
	__u64 sp;         /* interrupted user SP */
	__u64 ctx;        /* context register's value (the ucontext, if in the window) */
	__u64 slot_addr;  /* address of the first stale read, for window hits; else 0 */
	__u64 slot_value; /* its value before the signal frame is written */
	__u64 altstack_sp;
	__u64 altstack_size;
	__s32 sig;
	__u32 routine_offset; /* ip - routine start */
	__u8 routine;         /* index into ut_target.routines */
	__u8 window_index;    /* index into ut_routine.window, or UT_NO_WINDOW */
	__u8 window_class;    /* enum ut_window_class */
	__u8 delivery;        /* enum ut_delivery */
	__u8 flags;           /* UT_SIG_* */
	__u8 resume_off;      /* 1: resumes were not being traced (signal-only mode, or outside a
			       * sampled period, or none seen since): resume_seq is 0 */
	__u8 pad[2];
	struct ut_resume_seen resume; /* the thread's last resume (seq resume_seq), unless resume_off */
};

/*
 * unwindtrace validate (bpf/inject.bpf.c): signals injected exactly at chosen instructions of
 * resume routines. A uprobe on the instruction before one sends the signal to the current
 * thread; a uprobe defers pending signals to the next instruction, so it lands there.
 */
#define UT_INJECT_MAX_SITES 16 /* landing instructions per run (one per routine) */
#define UT_INJECT_MAX_SLOTS 4  /* stale reads still pending at a landing instruction */
#define UT_INJECT_NO_SITE 0xff

/* One landing instruction; its index is the uprobes' bpf_cookie. */
struct ut_inject_site {
	__u64 landing_ip; /* absolute address where the injected signal must land */
	__s32 sp_disp;    /* context register + sp_disp holds the target SP */
	__s32 slot_disp[UT_INJECT_MAX_SLOTS]; /* pending reads, from the context register */
	__u8 ctx_reg;     /* enum ut_reg */
	__u8 n_slots;
	__u8 pad[2];
};

/* inject.bpf.c's configuration for one run of the target: the `run_config` map's only value. */
struct ut_inject_config {
	__u64 limit; /* injections per site, at most */
	__u32 tgid;       /* 0 between runs: nothing is injected or recorded */
	__s32 sig;
	__u32 n_sites;
	__u32 pad;
	struct ut_inject_site sites[UT_INJECT_MAX_SITES];
};

/*
 * inject.bpf.c's `counters` array: UT_INJ_COUNTERS per site (site * UT_INJ_COUNTERS + counter),
 * then one block for the process (UT_INJECT_MAX_SITES * UT_INJ_COUNTERS + counter).
 */
enum ut_inject_counter {
	UT_INJ_PASSES = 0,   /* the injecting instruction ran with no injection pending */
	UT_INJ_SENT = 1,     /* bpf_send_signal_thread() succeeded */
	UT_INJ_SEND_FAILED = 2,
	UT_INJ_BUSY = 3,     /* not sent: the thread's previous injection is still undelivered */
	UT_INJ_DELIVERED = 4,
	UT_INJ_LANDED = 5,   /* delivered with the interrupted IP at landing_ip */
	UT_INJ_CHECKED = 6,  /* resumed at landing_ip after the handler: slots read again */
	UT_INJ_FATAL = 7,    /* process block: fatal signals (SIGSEGV, SIGBUS, ...) delivered */
	UT_INJ_LOST = 8,     /* process block: events the ring buffer had no room for */
	UT_INJ_MASKED = 9,   /* not sent: the thread blocks the signal (it would land elsewhere, later) */
	UT_INJ_COUNTERS = 10,
};

enum ut_inject_event_kind {
	UT_EVENT_INJECT_LANDING = 16, /* an injected signal is delivered: slots before the frame */
	UT_EVENT_INJECT_CHECK = 17,   /* the thread resumes at landing_ip: slots as the routine reads them */
	UT_EVENT_FATAL_SIGNAL = 18,   /* a fatal signal is delivered to the target */
};

struct ut_inject_event {
	struct ut_event_header hdr;
	__u64 seq;        /* per site, 1-based: LANDING and CHECK of one injection share it; 0 for FATAL */
	__u64 ip;         /* interrupted IP (LANDING, FATAL); landing_ip (CHECK) */
	__u64 sp;         /* interrupted SP */
	__u64 ctx;        /* LANDING: the context register */
	__u64 target_sp;  /* LANDING: the target SP the context holds */
	__u64 fault_addr; /* FATAL: si_addr */
	__u64 slot_addr[UT_INJECT_MAX_SLOTS];
	__u64 slot_value[UT_INJECT_MAX_SLOTS]; /* LANDING: before the frame is written; CHECK: after */
	__s32 sig;
	__u8 site;        /* index into ut_inject_config.sites; UT_INJECT_NO_SITE for FATAL */
	__u8 flags;       /* UT_SIG_* (LANDING, FATAL) */
	__u8 n_slots;
	__u8 unreadable;  /* bit i: slot i could not be read */
};

/*
 * Issue 5 (appended): a window hit's stale slot read again when the handler returns, and fatal
 * signals delivered to traced threads. handle_signal_deliver remembers each window hit in
 * `slot_checks` (by tid) while `slot_checks_on` is set; handle_sigreturn (the rt_sigreturn syscall
 * tracepoint, attached with --mode full --slot-checks) reads the slot once more, after the frame and the handler have written it.
 */
enum ut_model_event_kind {
	UT_EVENT_SLOT_CHECK = 32, /* struct ut_slot_check_event */
	UT_EVENT_FATAL = 33,      /* struct ut_fatal_event */
};

/* Value of `slot_checks`, keyed by tid: the thread's last window hit not yet checked. */
struct ut_pending_slot {
	__u64 hit_ktime_ns;
	__u64 slot_addr;
	__u64 before;
	__s32 sig;
	__u32 routine_offset;
	__u8 window_class;
	__u8 pad[7];
};

struct ut_slot_check_event {
	struct ut_event_header hdr;
	struct ut_pending_slot hit;
	__u64 after;      /* the slot's value when the handler returned */
	__u32 unreadable; /* the slot could not be read again */
	__u32 pad;
};

/* A signal whose default action kills (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS)
 * delivered to a traced thread without a handler, or any of them when the handler is SIG_DFL. */
struct ut_fatal_event {
	struct ut_event_header hdr;
	__u64 ip;
	__u64 sp;
	__u64 fault_addr; /* si_addr */
	__s32 sig;
	__s32 si_code;
};

/*
 * Host mode's crash signatures (bpf/crash.bpf.c): every fault signal delivered on the host
 * (SIGSEGV, SIGBUS, SIGILL, SIGFPE raised by the kernel from a fault: si_code > 0), whatever the
 * process. Registers and addresses only, never memory contents.
 */
#define UT_EVENT_CRASH 34

struct ut_crash_event {
	struct ut_event_header hdr;
	__u64 ip;         /* the faulting instruction */
	__u64 sp;         /* %rsp at the fault */
	__u64 fault_addr; /* si_addr */
	__s32 sig;
	__s32 si_code;
	__u8 flags;       /* UT_SIG_*: without UT_SIG_HANDLER the default action kills the process */
	__u8 pad[7];
	char comm[16];
};

/*
 * Issue 9: a thread of a traced process ended (bpf/trace.bpf.c, tp_btf/sched_process_exit). Its
 * final counts leave the `threads` and `signal_counts` maps in this record, so thread churn in a
 * long-lived process never fills them; the entries are deleted only once the record is reserved
 * (a full ring buffer leaves them to be read at the end, as before).
 */
#define UT_EVENT_THREAD_END 35
#define UT_MAX_SIGNAL 64 /* signals 1..64; counts of higher numbers (none on x86-64) stay in the map */

struct ut_thread_end_event {
	struct ut_event_header hdr;
	__u64 resumes;                                    /* its ut_thread_state.resumes, 0 if none */
	__u64 signals[UT_MAX_SIGNAL][UT_DELIVERY_KINDS]; /* [sig - 1][enum ut_delivery] */
};

/*
 * Host mode's exec watch (bpf/crash.bpf.c, handle_exec): a traced process (hdr.tgid) exec'd, even
 * the same program again. The header alone; it shares the crash watch's ring buffer.
 */
#define UT_EVENT_EXEC 36

#endif /* UNWINDTRACE_EVENTS_H */
