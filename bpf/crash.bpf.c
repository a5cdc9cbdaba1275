// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Host mode's crash watch: one event per fault signal delivered anywhere on the host, for the
 * crash signatures `record` writes (docs/records.md). Separate from trace.bpf.c because it is
 * host-wide, not per traced process, and only host mode wants it.
 *
 * handle_fault_signal (tp_btf/signal_deliver): SIGSEGV, SIGBUS, SIGILL and SIGFPE the kernel
 *   raised from a fault (si_code > 0; kill() and tgkill() have si_code <= 0), with the
 *   interrupted IP and SP and the fault address. Fires before any handler runs, so a crash
 *   reporter's handler does not hide the fault's registers.
 *
 * handle_exec (tp_btf/sched_process_exec): an exec of a process host mode traces (the tgids in
 *   exec_watched), so its trace segment ends at once and the new image is analysed again, also
 *   when it is the same program (a path check cannot tell). Attached by every host mode.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "signal_flags.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define UT_FAULT_SIGILL 4
#define UT_FAULT_SIGBUS 7
#define UT_FAULT_SIGFPE 8
#define UT_FAULT_SIGSEGV 11

/* Crashes are rare: a small buffer; a failed reservation is counted. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} crashes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} crashes_lost SEC(".maps");

/* A record of `size` bytes in the ring buffer, or NULL with the loss counted. */
static __always_inline void *reserve_event(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&crashes, size, 0);
	__u32 zero = 0;
	__u64 *lost;

	if (!e) {
		lost = bpf_map_lookup_elem(&crashes_lost, &zero);
		if (lost)
			__sync_fetch_and_add(lost, 1);
	}
	return e;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(handle_fault_signal, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct ut_crash_event *e;
	__u64 regs[UT_REG_COUNT];
	int code;

	if (sig != UT_FAULT_SIGSEGV && sig != UT_FAULT_SIGBUS && sig != UT_FAULT_SIGILL && sig != UT_FAULT_SIGFPE)
		return 0;
	code = BPF_CORE_READ(info, si_code);
	if (code <= 0)
		return 0;
	task = bpf_get_current_task_btf();
	if (bpf_probe_read_kernel(regs, sizeof(regs), (void *)bpf_task_pt_regs(task)))
		return 0;
	e = reserve_event(sizeof(*e));
	if (!e)
		return 0;
	e->hdr.kind = UT_EVENT_CRASH;
	e->hdr.tgid = pid_tgid >> 32;
	e->hdr.tid = (__u32)pid_tgid;
	e->hdr.pad = 0;
	e->hdr.ktime_ns = bpf_ktime_get_ns();
	e->ip = regs[UT_REG_IP];
	e->sp = regs[UT_REG_SP];
	e->fault_addr = (__u64)BPF_CORE_READ(info, _sifields._sigfault._addr);
	e->sig = sig;
	e->si_code = code;
	e->flags = ut_signal_flags(task, ka, e->sp);
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Processes host mode traces: tgid -> 1, kept by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} exec_watched SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	struct ut_event_header *e;

	if (!bpf_map_lookup_elem(&exec_watched, &tgid))
		return 0;
	e = reserve_event(sizeof(*e));
	if (!e)
		return 0;
	e->kind = UT_EVENT_EXEC;
	e->tgid = tgid;
	e->tid = p->pid;
	e->pad = 0;
	e->ktime_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
	return 0;
}
