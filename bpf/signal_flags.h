/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What decides where the kernel writes a signal's frame, as seen from tp_btf/signal_deliver:
 * UT_SIG_* flags (events.h) from the handler's sigaction and the thread's sigaltstack.
 * BPF-side only: include after vmlinux.h and the libbpf headers.
 */
#ifndef UNWINDTRACE_SIGNAL_FLAGS_H
#define UNWINDTRACE_SIGNAL_FLAGS_H

#include "events.h"

#define UT_SA_SIGINFO 0x00000004
#define UT_SA_ONSTACK 0x08000000
#define UT_SIG_DFL 0
#define UT_SIG_IGN 1

/* `sp` is the interrupted user SP. */
static __always_inline __u8 ut_signal_flags(struct task_struct *task, struct k_sigaction *ka, __u64 sp)
{
	unsigned long handler = (unsigned long)BPF_CORE_READ(ka, sa.sa_handler);
	unsigned long flags = BPF_CORE_READ(ka, sa.sa_flags);
	unsigned long ss_sp = task->sas_ss_sp;
	__u8 out = 0;

	if (handler != UT_SIG_DFL && handler != UT_SIG_IGN)
		out |= UT_SIG_HANDLER;
	if (flags & UT_SA_SIGINFO)
		out |= UT_SIG_SIGINFO;
	if (flags & UT_SA_ONSTACK)
		out |= UT_SIG_ONSTACK;
	if (ss_sp) {
		out |= UT_SIG_ALTSTACK_SET;
		if (sp > ss_sp && sp - ss_sp <= task->sas_ss_size)
			out |= UT_SIG_ON_ALTSTACK;
	}
	return out;
}

#endif /* UNWINDTRACE_SIGNAL_FLAGS_H */
