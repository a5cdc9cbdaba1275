// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel hooks of unwindtrace.
 *
 * handle_signal_deliver (tp_btf/signal_deliver): runs for every signal the kernel is about to
 *   deliver, before the signal frame is written. For traced processes it counts the signal and,
 *   when the interrupted IP lies inside a hazardous routine, emits one event with what the
 *   signal side can see (registers, the stale slot's value). The in-window test runs here so
 *   only those events cross to user space.
 * handle_resume (uprobe): runs once per entry into a hazardous routine, at a probe point chosen
 *   by the analysis; counts the resume, keeps its context pointer, target SP and target IP in the
 *   thread's map entry (a later signal in the routine carries them) and counts its shape. Nothing
 *   crosses to user space per resume: that is most of what a resume would otherwise cost.
 *   Attached only in full and sampled modes (signal-only mode loads it but never attaches it).
 *
 * resume_period gates resume tracing: user space sets it (non-zero, new for every sampled
 * period) only once every resume probe is attached, and clears it before detaching any. While it
 * is 0 the uprobe counts nothing, so the time it is non-zero is exactly the traced time, and a
 * signal is joined to a resume only if its thread's last resume was seen in the current period
 * (every resume since then was seen too).
 *
 * Events go to one ring buffer without wakeups: user space drains it on a timer, so a busy
 * target never pays for a wakeup. Failed reservations and full counter maps are counted, never
 * dropped silently.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "signal_flags.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Sized by user space before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* tgid */
	__type(value, struct ut_target);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tid */
	__type(value, struct ut_thread_state);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ut_signal_key);
	__type(value, __u64);
} signal_counts SEC(".maps");

/* Per CPU: a process's threads count the same few shapes without sharing a cache line. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ut_shape_key);
	__type(value, __u64);
} resume_shapes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* tgid */
	__type(value, struct ut_lost_counts);
} lost_events SEC(".maps");

/* Where each traced thread's last signal was delivered: see delivery_of(). */
struct last_delivery {
	__u64 ip;
	__u64 sp;
	__u64 ktime_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tid */
	__type(value, struct last_delivery);
} last_deliveries SEC(".maps");

/* A handler's run is microseconds; a real interrupt at the very IP and SP of the last signal
 * (a tight spin loop) rarely comes this soon. */
#define UT_SIGRETURN_CHAIN_NS (10 * 1000 * 1000ULL)

volatile __u32 resume_period; /* written by user space through the skeleton's bss */
volatile __u32 slot_checks_on; /* set while handle_sigreturn is attached: only then keep hits' slots */

static __always_inline void count_lost(__u32 tgid, __u32 kind)
{
	struct ut_lost_counts zero = {}, *lost;

	lost = bpf_map_lookup_elem(&lost_events, &tgid);
	if (!lost) {
		bpf_map_update_elem(&lost_events, &tgid, &zero, BPF_NOEXIST);
		lost = bpf_map_lookup_elem(&lost_events, &tgid);
	}
	if (lost && kind < UT_LOST_KINDS)
		lost->n[kind] += 1;
}

/* The counter of `key` in a hash of __u64 counters, created at 0 if missing; NULL if it is full. */
static __always_inline __u64 *counter_of(void *map, const void *key)
{
	__u64 zero = 0, *count = bpf_map_lookup_elem(map, key);

	if (!count) {
		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		count = bpf_map_lookup_elem(map, key);
	}
	return count;
}

static __always_inline void count_signal(__u32 tgid, __u32 tid, int sig, __u32 delivery)
{
	struct ut_signal_key key = { .tgid = tgid, .tid = tid, .sig = sig, .delivery = delivery };
	__u64 *count = counter_of(&signal_counts, &key);

	if (!count) {
		count_lost(tgid, UT_LOST_COUNTER);
		return;
	}
	__sync_fetch_and_add(count, 1);
}

static __always_inline __u64 reg_value(const __u64 *regs, __u8 reg)
{
	return reg < UT_REG_COUNT ? regs[reg & 31] : 0;
}

static __always_inline void fill_header(struct ut_event_header *hdr, __u32 kind, __u64 pid_tgid)
{
	hdr->kind = kind;
	hdr->tgid = pid_tgid >> 32;
	hdr->tid = (__u32)pid_tgid;
	hdr->pad = 0;
	hdr->ktime_ns = bpf_ktime_get_ns();
}

static void remember_window_hit(__u32 tid, const struct ut_signal_event *e); /* issue 5, below */
static void report_fatal_signal(__u64 pid_tgid, int sig, __u64 info, const __u64 *regs);

/*
 * How the kernel was entered for this delivery. orig_ax holds the syscall number on syscall entry,
 * -1 after an interrupt or exception; but rt_sigreturn sets it to -1 too when it restores the
 * interrupted registers. So a signal that became pending while the previous handler ran, and is
 * delivered as that handler returns, would pass for an interrupt: it lands where the previous
 * signal did (a syscall return, mostly), not at a random instruction, and it is more common the
 * higher the signal rate and the slower rt_sigreturn (a traced one). It has the previous
 * delivery's IP and SP, restored from its frame: counted as the syscall return it is.
 */
static __always_inline __u32 delivery_of(__u32 tid, const __u64 *regs)
{
	struct last_delivery now = { .ip = regs[UT_REG_IP], .sp = regs[UT_REG_SP], .ktime_ns = bpf_ktime_get_ns() };
	struct last_delivery *last = bpf_map_lookup_elem(&last_deliveries, &tid);
	__u32 delivery = (long)regs[UT_REG_ORIG_AX] >= 0 ? UT_DELIVERY_SYSCALL : UT_DELIVERY_INTERRUPT;
	__u16 insn = 0;

	/* The frame of a signal delivered at a syscall that restarts holds the IP of the `syscall`
	 * instruction (2 bytes back): the kernel rewinds it after this tracepoint. */
	if (delivery == UT_DELIVERY_INTERRUPT && last && (last->ip == now.ip || last->ip == now.ip + 2) &&
	    last->sp == now.sp && now.ktime_ns - last->ktime_ns < UT_SIGRETURN_CHAIN_NS)
		delivery = UT_DELIVERY_SYSCALL;
	/* An interrupt raised while the kernel returned from a syscall (interrupts are off on that
	 * path) is taken at the first user instruction, right after the `syscall`: a syscall
	 * return's IP, never a window instruction, no random sample. */
	if (delivery == UT_DELIVERY_INTERRUPT && !bpf_probe_read_user(&insn, sizeof(insn), (void *)(now.ip - 2)) &&
	    insn == 0x050f)
		delivery = UT_DELIVERY_SYSCALL;
	if (last)
		*last = now;
	else
		bpf_map_update_elem(&last_deliveries, &tid, &now, BPF_ANY);
	return delivery;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(handle_signal_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct ut_target *target = bpf_map_lookup_elem(&targets, &tgid);
	struct task_struct *task;
	struct ut_signal_event *e;
	struct ut_thread_state *state;
	__u64 regs[UT_REG_COUNT];
	__u32 delivery, period, tid = (__u32)pid_tgid;
	__u64 ip;
	int r, w;

	if (!target)
		return 0;
	task = bpf_get_current_task_btf();
	if (bpf_probe_read_kernel(regs, sizeof(regs), (void *)bpf_task_pt_regs(task)))
		return 0;
	delivery = delivery_of(tid, regs);
	count_signal(tgid, tid, sig, delivery);
	report_fatal_signal(pid_tgid, sig, (__u64)info, regs);

	ip = regs[UT_REG_IP];
	for (r = 0; r < UT_MAX_ROUTINES; r++) {
		struct ut_routine *routine = &target->routines[r];

		if (r >= target->n_routines)
			return 0;
		if (ip < routine->start || ip >= routine->end)
			continue;

		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e) {
			count_lost(tgid, UT_LOST_SIGNAL);
			return 0;
		}
		fill_header(&e->hdr, UT_EVENT_SIGNAL, pid_tgid);
		state = bpf_map_lookup_elem(&threads, &tid);
		period = resume_period;
		if (state && period && state->period == period) {
			e->resume_off = 0;
			e->resume_seq = state->resumes;
			e->resume = state->last;
		} else {
			e->resume_off = 1;
			e->resume_seq = 0;
			__builtin_memset(&e->resume, 0, sizeof(e->resume));
		}
		e->ip = ip;
		e->sp = regs[UT_REG_SP];
		e->ctx = reg_value(regs, routine->ctx_reg);
		e->slot_addr = 0;
		e->slot_value = 0;
		e->altstack_sp = task->sas_ss_sp;
		e->altstack_size = task->sas_ss_size;
		e->sig = sig;
		e->routine_offset = ip - routine->start;
		e->routine = r;
		e->window_index = UT_NO_WINDOW;
		e->window_class = UT_CLASS_NONE;
		e->delivery = delivery;
		e->flags = ut_signal_flags(task, ka, e->sp);
		__builtin_memset(e->pad, 0, sizeof(e->pad));
		for (w = 0; w < UT_MAX_WINDOW_INSNS && w < routine->n_window; w++) {
			if (routine->window[w].addr != ip)
				continue;
			e->window_index = w;
			e->window_class = routine->window[w].cls;
			e->slot_addr = e->ctx + routine->window[w].slot_disp;
			/* The frame is not written yet: this is what the routine was about to read. */
			if (bpf_probe_read_user(&e->slot_value, sizeof(e->slot_value),
						(void *)e->slot_addr))
				e->slot_value = 0;
			if (slot_checks_on)
				remember_window_hit(tid, e);
			break;
		}
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	return 0;
}

/*
 * The context register at the resume probe. The routine's argument register (%rdi, the only one
 * analyses have found so far) is a load from the uprobe's pt_regs; any other costs a helper call
 * (the verifier takes only constant offsets into the context).
 */
static __always_inline __u64 resume_context(const struct pt_regs *regs, __u8 reg)
{
	__u64 value;

	if (reg == UT_REG_DI)
		return regs->di;
	if (reg >= UT_REG_COUNT || bpf_probe_read_kernel(&value, sizeof(value), (__u64 *)regs + (reg & 31)))
		return 0;
	return value;
}

/* The target SP and IP from the context: one user read when they are adjacent (GNU libunwind). */
static __always_inline void read_resume_target(struct ut_resume_seen *resume, const struct ut_routine *routine)
{
	__u64 both[2];

	if (routine->ip_disp == routine->sp_disp + 8 &&
	    !bpf_probe_read_user(both, sizeof(both), (void *)(resume->ctx + routine->sp_disp))) {
		resume->target_sp = both[0];
		resume->target_ip = both[1];
		return;
	}
	if (bpf_probe_read_user(&resume->target_sp, sizeof(resume->target_sp), (void *)(resume->ctx + routine->sp_disp)))
		resume->target_sp = 0;
	if (bpf_probe_read_user(&resume->target_ip, sizeof(resume->target_ip), (void *)(resume->ctx + routine->ip_disp)))
		resume->target_ip = 0;
}

static __always_inline void count_shape(__u32 tgid, const struct ut_resume_seen *resume)
{
	struct ut_shape_key key = {
		.tgid = tgid,
		.routine = resume->routine,
		.distance = (__s64)(resume->target_sp - resume->ctx),
		.sp_align = resume->target_sp & 63,
	};
	__u64 *count = counter_of(&resume_shapes, &key);

	if (!count) {
		count_lost(tgid, UT_LOST_COUNTER);
		return;
	}
	*count += 1; /* this CPU's slot, and a BPF program is not preempted by another on its CPU */
}

SEC("uprobe")
int handle_resume(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	__u32 index = (__u32)bpf_get_attach_cookie(ctx);
	struct ut_target *target = bpf_map_lookup_elem(&targets, &tgid);
	struct ut_thread_state fresh = { .resumes = 0, .tgid = tgid }, *state;
	struct ut_routine *routine;
	__u32 period = resume_period;

	/* The uprobe is attached per process; the check also covers a recycled pid. */
	if (!target || !period || index >= UT_MAX_ROUTINES)
		return 0;
	routine = &target->routines[index];

	state = bpf_map_lookup_elem(&threads, &tid);
	if (!state) {
		bpf_map_update_elem(&threads, &tid, &fresh, BPF_NOEXIST);
		state = bpf_map_lookup_elem(&threads, &tid);
		if (!state) {
			count_lost(tgid, UT_LOST_COUNTER);
			return 0;
		}
	}
	/* Only this thread writes its own entry, and its signals are delivered after this returns. */
	state->resumes += 1;
	state->period = period;
	state->last.routine = index;
	state->last.ctx = resume_context(ctx, routine->ctx_reg);
	read_resume_target(&state->last, routine);
	count_shape(tgid, &state->last);
	return 0;
}

/*
 * Issue 5 (appended): the slot of each window hit read again when the handler returns, and fatal
 * signals. handle_sigreturn is on the rt_sigreturn syscall tracepoint: it runs only for that
 * syscall (raw_tp/sys_enter ran it for all, and GNU libunwind calls rt_sigprocmask ~110 times per
 * resume), but while it is attached every syscall of the host takes the kernel's traced path
 * (~50-100 ns each here, docs/performance.md), so user space attaches it only when asked for
 * (--mode full --slot-checks).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tid */
	__type(value, struct ut_pending_slot);
} slot_checks SEC(".maps");

static __attribute__((noinline)) void remember_window_hit(__u32 tid, const struct ut_signal_event *e)
{
	struct ut_pending_slot pending = {
		.hit_ktime_ns = e->hdr.ktime_ns,
		.slot_addr = e->slot_addr,
		.before = e->slot_value,
		.sig = e->sig,
		.routine_offset = e->routine_offset,
		.window_class = e->window_class,
	};

	if (bpf_map_update_elem(&slot_checks, &tid, &pending, BPF_ANY))
		count_lost(e->hdr.tgid, UT_LOST_COUNTER);
}

SEC("tp/syscalls/sys_enter_rt_sigreturn")
int handle_sigreturn(void *ctx)
{
	__u64 pid_tgid;
	__u32 tid;
	struct ut_pending_slot *pending;
	struct ut_slot_check_event *e;

	pid_tgid = bpf_get_current_pid_tgid();
	tid = (__u32)pid_tgid;
	pending = bpf_map_lookup_elem(&slot_checks, &tid);
	if (!pending)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(pid_tgid >> 32, UT_LOST_SIGNAL);
		bpf_map_delete_elem(&slot_checks, &tid);
		return 0;
	}
	fill_header(&e->hdr, UT_EVENT_SLOT_CHECK, pid_tgid);
	e->hit = *pending;
	e->unreadable = bpf_probe_read_user(&e->after, sizeof(e->after), (void *)pending->slot_addr) ? 1 : 0;
	if (e->unreadable)
		e->after = 0;
	e->pad = 0;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	bpf_map_delete_elem(&slot_checks, &tid);
	return 0;
}

/* SIGILL 4, SIGTRAP 5, SIGABRT 6, SIGBUS 7, SIGFPE 8, SIGSEGV 11, SIGSYS 31 */
static __attribute__((noinline)) void report_fatal_signal(__u64 pid_tgid, int sig, __u64 info, const __u64 *regs)
{
	struct kernel_siginfo *si = (struct kernel_siginfo *)info;
	struct ut_fatal_event *e;

	if (sig != 4 && sig != 5 && sig != 6 && sig != 7 && sig != 8 && sig != 11 && sig != 31)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(pid_tgid >> 32, UT_LOST_SIGNAL);
		return;
	}
	fill_header(&e->hdr, UT_EVENT_FATAL, pid_tgid);
	e->ip = regs[UT_REG_IP];
	e->sp = regs[UT_REG_SP];
	e->fault_addr = (__u64)BPF_CORE_READ(si, _sifields._sigfault._addr);
	e->si_code = BPF_CORE_READ(si, si_code);
	e->sig = sig;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/*
 * Issue 9 (appended): prunes the per-thread maps when a thread of a traced process ends, so a
 * long-lived process whose threads come and go never fills them. The thread's final counts go to
 * user space in one UT_EVENT_THREAD_END record; its entries are deleted only if that record was
 * reserved, so a full ring buffer loses nothing (the entries stay and are read at the end). Only
 * the exiting thread itself writes its entries (signals are counted and resumes probed in its own
 * context), so nothing can be added after this runs. The hook runs in the exiting task.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_thread_exit)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct ut_signal_key key = { .tgid = tgid, .tid = tid };
	struct ut_thread_state *state;
	struct ut_thread_end_event *e;
	__u64 *count;
	int sig, delivery;

	if (!bpf_map_lookup_elem(&targets, &tgid))
		return 0; /* not traced, or no longer: user space forgets the process's entries */
	bpf_map_delete_elem(&slot_checks, &tid); /* a check its handler never got to */
	bpf_map_delete_elem(&last_deliveries, &tid);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0; /* nothing lost: the entries stay */
	fill_header(&e->hdr, UT_EVENT_THREAD_END, pid_tgid);
	state = bpf_map_lookup_elem(&threads, &tid);
	e->resumes = state ? state->resumes : 0;
	for (sig = 1; sig <= UT_MAX_SIGNAL; sig++) {
		for (delivery = 0; delivery < UT_DELIVERY_KINDS; delivery++) {
			key.sig = sig;
			key.delivery = delivery;
			count = bpf_map_lookup_elem(&signal_counts, &key);
			e->signals[sig - 1][delivery] = count ? *count : 0;
			if (count)
				bpf_map_delete_elem(&signal_counts, &key);
		}
	}
	if (state)
		bpf_map_delete_elem(&threads, &tid);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}
