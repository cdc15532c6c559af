// The programs chosen from what the kernel has (plan_programs), and what each variant's programs
// call: a _compat program naming bpf_loop (or a typed-task helper, or a kfunc) makes Linux 5.10
// refuse the whole object, which no test on this machine's kernel would see.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <set>
#include <string>

#include "cwtrace.skel.h"
#include "kernel/program_plan.h"

namespace cwtrace {
namespace {

KernelFeatures kernel(bool loop, bool cast) {
    KernelFeatures k;
    k.release = "6.1.0-57-amd64";
    k.btf = k.ringbuf = true;
    k.bpf_loop = loop;
    k.rdonly_cast = cast;
    return k;
}

TEST(PlanPrograms, NewestKernelLoadsDirectProgramsAndLeavesNothingOut) {
    auto plan = plan_programs(kernel(true, true), {});
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->variant, ProgramVariant::Direct);
    EXPECT_TRUE(plan->python_frames);
    EXPECT_TRUE(plan->fd_walk);
    EXPECT_TRUE(plan->warnings.empty());
}

TEST(PlanPrograms, WithoutRdonlyCastProbedReadsAndNoWarning) {  // 6.1
    auto plan = plan_programs(kernel(true, false), {});
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->variant, ProgramVariant::Probed);
    EXPECT_TRUE(plan->python_frames);
    EXPECT_TRUE(plan->fd_walk);
    EXPECT_TRUE(plan->warnings.empty());
}

TEST(PlanPrograms, ProbedReadsAskedFor) {
    auto plan = plan_programs(kernel(true, true), {.probed_reads = true});
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->variant, ProgramVariant::Probed);
}

TEST(PlanPrograms, WithoutBpfLoopCompatProgramsOneWarningNamingKernelAndLoss) {  // 5.10, 5.15
    KernelFeatures k = kernel(false, false);
    k.release = "5.10.0-32-cloud-amd64";
    auto plan = plan_programs(k, {});
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->variant, ProgramVariant::Compat);
    EXPECT_FALSE(plan->python_frames);
    EXPECT_FALSE(plan->fd_walk);
    ASSERT_EQ(plan->warnings.size(), 1u);
    EXPECT_EQ(plan->warnings[0],
              "Linux 5.10.0-32-cloud-amd64: no bpf_loop: Python frames off, owners from /proc");
}

TEST(PlanPrograms, NoBpfLoopAskedForSaysWhy) {
    auto plan = plan_programs(kernel(true, true), {.no_bpf_loop = true});
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->variant, ProgramVariant::Compat);
    ASSERT_EQ(plan->warnings.size(), 1u);
    EXPECT_EQ(plan->warnings[0],
              "Linux 6.1.0-57-amd64: bpf_loop not used (CWTRACE_NO_BPF_LOOP): Python frames off, "
              "owners from /proc");
}

TEST(PlanPrograms, NoRingBufferOrNoBtfIsOneLineError) {
    KernelFeatures k = kernel(false, false);
    k.release = "5.4.0-1";
    k.ringbuf = false;
    auto plan = plan_programs(k, {});
    ASSERT_FALSE(plan);
    EXPECT_EQ(plan.error().message,
              "Linux 5.4.0-1: no BPF ring buffer (Linux 5.8+): cwtrace cannot run");
    k.ringbuf = true;
    k.btf = false;
    plan = plan_programs(k, {});
    ASSERT_FALSE(plan);
    EXPECT_EQ(plan.error().message,
              "Linux 5.4.0-1: no kernel BTF (/sys/kernel/btf/vmlinux): cwtrace cannot run");
}

TEST(PlanPrograms, OnlyDirectFallsBackToProbed) {
    EXPECT_EQ(fallback_of(ProgramVariant::Direct), ProgramVariant::Probed);
    EXPECT_EQ(fallback_of(ProgramVariant::Probed), ProgramVariant::Probed);
    EXPECT_EQ(fallback_of(ProgramVariant::Compat), ProgramVariant::Compat);
}

// What a program's own instructions call: helper ids, and whether it calls a kfunc.
struct Calls {
    std::set<int> helpers;
    bool kfunc = false;
};

Calls calls_of(const bpf_program* prog) {
    Calls c;
    const bpf_insn* insns = bpf_program__insns(prog);
    for (size_t i = 0; i < bpf_program__insn_cnt(prog); ++i) {
        if (insns[i].code != (BPF_JMP | BPF_CALL)) continue;
        // Before load, clang's call of an extern (a kfunc) is a pseudo call to -1 with a
        // relocation.
        if (insns[i].src_reg == BPF_PSEUDO_KFUNC_CALL ||
            (insns[i].src_reg == BPF_PSEUDO_CALL && insns[i].imm == -1))
            c.kfunc = true;
        if (insns[i].src_reg == 0) c.helpers.insert(insns[i].imm);
    }
    return c;
}

TEST(ProgramVariants, EachCallsOnlyWhatItsKernelsHave) {
    size_t size = 0;
    const void* elf = cwtrace_bpf__elf_bytes(&size);
    bpf_object* obj = bpf_object__open_mem(elf, size, nullptr);
    ASSERT_NE(obj, nullptr);
    int direct = 0, probed = 0, compat = 0;
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj) {
        const std::string name = bpf_program__name(prog);
        if (name == "on_process_exec") {  // one program for every kernel
            const Calls c = calls_of(prog);
            EXPECT_FALSE(c.kfunc);
            EXPECT_EQ(c.helpers.count(BPF_FUNC_get_current_task_btf), 0u);
            continue;
        }
        const Calls c = calls_of(prog);
        const bool loops = c.helpers.count(BPF_FUNC_loop) > 0;
        const bool typed_task = c.helpers.count(BPF_FUNC_get_current_task_btf) > 0 ||
                                c.helpers.count(BPF_FUNC_task_pt_regs) > 0;
        if (name.ends_with("_compat")) {
            ++compat;
            // Linux 5.10 refuses a program naming a bpf_loop callback, a kfunc, or a helper of
            // 5.11+ (task_btf) or 5.15+ (task_pt_regs).
            EXPECT_FALSE(loops) << name;
            EXPECT_FALSE(typed_task) << name;
            EXPECT_FALSE(c.kfunc) << name;
        } else if (name.ends_with("_probed")) {
            ++probed;
            EXPECT_TRUE(loops) << name;     // the controls: what the check looks for is there
            EXPECT_FALSE(c.kfunc) << name;  // 6.1 has no bpf_rdonly_cast
        } else {
            ++direct;
            EXPECT_TRUE(loops) << name;
            EXPECT_TRUE(c.kfunc) << name;
        }
    }
    bpf_object__close(obj);
    // on_inet_sock_set_state, on_accept4_exit, on_accept_exit: three of each.
    EXPECT_EQ(direct, 3);
    EXPECT_EQ(probed, 3);
    EXPECT_EQ(compat, 3);
}

}  // namespace
}  // namespace cwtrace
