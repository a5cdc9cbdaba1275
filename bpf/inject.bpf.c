// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel side of `unwindtrace validate`: signals injected at chosen instructions of resume
 * routines (config.sites[].landing_ip), with the evidence of what their frames did to the stale
 * context. The uprobes' bpf_cookie is the site index. User space rewrites `run_config` and clears the
 * other maps between runs of the target, so the programs stay loaded and attached.
 *
 * inject_signal (uprobe on the instruction before landing_ip): sends the configured signal to the current
 *   thread. A uprobe defers pending signals until the probed instruction has run, so the signal
 *   is delivered with the interrupted IP at the next instruction: landing_ip.
 * on_signal_deliver (tp_btf/signal_deliver, before the frame is written): for an injected
 *   signal, where it landed and the pending slots' values before the frame; for a fatal signal,
 *   where the target crashed.
 * check_slots (uprobe on landing_ip): when the thread resumes there after the handler, the
 *   slots again, as the routine is about to read them. A changed slot is a corruption.
 *
 * Counters are authoritative; events go to a ring buffer without wakeups, drained on a timer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "signal_flags.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define UT_SIGILL 4
#define UT_SIGTRAP 5
#define UT_SIGABRT 6
#define UT_SIGBUS 7
#define UT_SIGFPE 8
#define UT_SIGSEGV 11
#define UT_SIGSYS 31
#define UT_PROCESS_BLOCK UT_INJECT_MAX_SITES

_Static_assert((UT_INJECT_MAX_SITES & (UT_INJECT_MAX_SITES - 1)) == 0, "site masks need a power of two");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ut_inject_config);
} run_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (UT_INJECT_MAX_SITES + 1) * UT_INJ_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct injection {
	__u64 seq;
	__u32 site;
	__u32 pad;
	__u64 slot_addr[UT_INJECT_MAX_SLOTS]; /* once landed */
};

/* tid -> injection sent, not delivered yet */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct injection);
} pending SEC(".maps");

/* tid -> injection delivered at its landing_ip, the thread not resumed there yet */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct injection);
} landed SEC(".maps");

/* The configuration when the current process is the target, else NULL. */
static __always_inline struct ut_inject_config *target_config(__u64 pid_tgid)
{
	__u32 zero = 0;
	struct ut_inject_config *cfg = bpf_map_lookup_elem(&run_config, &zero);

	return cfg && cfg->tgid && cfg->tgid == pid_tgid >> 32 ? cfg : NULL;
}

/* The mask keeps the index provably in bounds for the verifier. */
static __always_inline struct ut_inject_site *site_config(struct ut_inject_config *cfg, __u32 index)
{
	return &cfg->sites[index & (UT_INJECT_MAX_SITES - 1)];
}

/* Returns the new value, 0 if the counter is missing. */
static __always_inline __u64 count(__u32 block, __u32 counter)
{
	__u32 index = block * UT_INJ_COUNTERS + counter;
	__u64 *value = bpf_map_lookup_elem(&counters, &index);

	return value ? __sync_fetch_and_add(value, 1) + 1 : 0;
}

static __always_inline struct ut_inject_event *reserve_event(__u32 kind, __u64 pid_tgid, __u32 site)
{
	struct ut_inject_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(UT_PROCESS_BLOCK, UT_INJ_LOST);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.kind = kind;
	e->hdr.tgid = pid_tgid >> 32;
	e->hdr.tid = (__u32)pid_tgid;
	e->hdr.ktime_ns = bpf_ktime_get_ns();
	e->site = site;
	return e;
}

/* Reads the slots at e->slot_addr into e->slot_value. */
static __always_inline void read_slots(struct ut_inject_event *e)
{
	int i;

	for (i = 0; i < UT_INJECT_MAX_SLOTS; i++) {
		if (i >= e->n_slots)
			break;
		if (bpf_probe_read_user(&e->slot_value[i], sizeof(e->slot_value[i]), (void *)e->slot_addr[i]))
			e->unreadable |= 1 << i;
	}
}

/* A register of the interrupted user context (enum ut_reg); 0 if it cannot be read. */
static __always_inline __u64 user_reg(struct task_struct *task, __u32 reg)
{
	__u64 value = 0;

	if (reg < UT_REG_COUNT)
		bpf_probe_read_kernel(&value, sizeof(value), (__u64 *)bpf_task_pt_regs(task) + reg);
	return value;
}

static __always_inline bool fatal_signal(int sig)
{
	return sig == UT_SIGSEGV || sig == UT_SIGBUS || sig == UT_SIGILL || sig == UT_SIGFPE ||
	       sig == UT_SIGTRAP || sig == UT_SIGABRT || sig == UT_SIGSYS;
}

SEC("uprobe")
int inject_signal(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u32 site = (__u32)bpf_get_attach_cookie(ctx);
	struct ut_inject_config *cfg = target_config(pid_tgid);
	struct injection sent = { .site = site };

	if (!cfg || site >= UT_INJECT_MAX_SITES)
		return 0;
	/* A second standard signal sent while one is pending would merge with it. */
	if (bpf_map_lookup_elem(&pending, &tid)) {
		count(site, UT_INJ_BUSY);
		return 0;
	}
	/* A blocked signal stays pending until unblocked, and lands wherever that happens (the
	 * workload's threads warm up with it blocked): that would measure the mask, not the site. */
	if (cfg->sig >= 1 && cfg->sig <= 64 &&
	    (BPF_CORE_READ(bpf_get_current_task_btf(), blocked.sig[0]) >> (cfg->sig - 1)) & 1) {
		count(site, UT_INJ_MASKED);
		return 0;
	}
	sent.seq = count(site, UT_INJ_PASSES);
	if (sent.seq == 0 || sent.seq > cfg->limit)
		return 0;
	if (bpf_map_update_elem(&pending, &tid, &sent, BPF_ANY)) {
		count(site, UT_INJ_SEND_FAILED);
		return 0;
	}
	if (bpf_send_signal_thread(cfg->sig)) {
		bpf_map_delete_elem(&pending, &tid);
		count(site, UT_INJ_SEND_FAILED);
		return 0;
	}
	count(site, UT_INJ_SENT);
	return 0;
}

static __always_inline void record_fatal(int sig, struct kernel_siginfo *info, struct k_sigaction *ka,
					 __u64 pid_tgid, struct task_struct *task)
{
	struct ut_inject_event *e;

	count(UT_PROCESS_BLOCK, UT_INJ_FATAL);
	e = reserve_event(UT_EVENT_FATAL_SIGNAL, pid_tgid, UT_INJECT_NO_SITE);
	if (!e)
		return;
	e->sig = sig;
	e->ip = user_reg(task, UT_REG_IP);
	e->sp = user_reg(task, UT_REG_SP);
	e->fault_addr = (__u64)BPF_CORE_READ(info, _sifields._sigfault._addr);
	e->flags = ut_signal_flags(task, ka, e->sp);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(on_signal_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct ut_inject_config *cfg = target_config(pid_tgid);
	struct ut_inject_site *site;
	struct injection *sent, done;
	struct task_struct *task;
	struct ut_inject_event *e;
	__u32 index;
	int i;

	if (!cfg)
		return 0;
	task = bpf_get_current_task_btf();
	if (fatal_signal(sig)) {
		record_fatal(sig, info, ka, pid_tgid, task);
		return 0;
	}
	if (sig != cfg->sig)
		return 0;
	sent = bpf_map_lookup_elem(&pending, &tid);
	if (!sent)
		return 0; /* not one of ours */
	done = *sent;
	bpf_map_delete_elem(&pending, &tid);
	index = done.site;
	if (index >= UT_INJECT_MAX_SITES)
		return 0;
	site = site_config(cfg, index);
	count(index, UT_INJ_DELIVERED);

	e = reserve_event(UT_EVENT_INJECT_LANDING, pid_tgid, index);
	if (!e)
		return 0;
	e->seq = done.seq;
	e->sig = sig;
	e->ip = user_reg(task, UT_REG_IP);
	e->sp = user_reg(task, UT_REG_SP);
	e->ctx = user_reg(task, site->ctx_reg);
	e->flags = ut_signal_flags(task, ka, e->sp);
	if (e->ip == site->landing_ip) {
		if (bpf_probe_read_user(&e->target_sp, sizeof(e->target_sp), (void *)(e->ctx + site->sp_disp)))
			e->target_sp = 0;
		e->n_slots = site->n_slots;
		for (i = 0; i < UT_INJECT_MAX_SLOTS; i++) {
			e->slot_addr[i] = e->ctx + site->slot_disp[i];
			done.slot_addr[i] = e->slot_addr[i];
		}
		/* The frame is not written yet: this is what the routine was about to read. */
		read_slots(e);
		count(index, UT_INJ_LANDED);
		bpf_map_update_elem(&landed, &tid, &done, BPF_ANY);
	}
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("uprobe")
int check_slots(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u32 site = (__u32)bpf_get_attach_cookie(ctx);
	struct ut_inject_config *cfg = target_config(pid_tgid);
	struct injection *done;
	struct ut_inject_event *e;
	int i;

	if (!cfg || site >= UT_INJECT_MAX_SITES)
		return 0;
	done = bpf_map_lookup_elem(&landed, &tid);
	if (!done || done->site != site)
		return 0; /* an ordinary pass, not the resume after an injection here */
	count(site, UT_INJ_CHECKED);
	e = reserve_event(UT_EVENT_INJECT_CHECK, pid_tgid, site);
	if (e) {
		e->seq = done->seq;
		e->ip = site_config(cfg, site)->landing_ip;
		e->sp = PT_REGS_SP(ctx);
		e->n_slots = site_config(cfg, site)->n_slots;
		for (i = 0; i < UT_INJECT_MAX_SLOTS; i++)
			e->slot_addr[i] = done->slot_addr[i];
		read_slots(e);
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
	bpf_map_delete_elem(&landed, &tid);
	return 0;
}
