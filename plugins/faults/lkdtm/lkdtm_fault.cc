// E-Zone 3, guest kernel: the kernel's own crash tests. LKDTM
// (drivers/misc/lkdtm), built out of tree from Debian's linux-source for the
// guest kernel (kmod/lkdtm/), is loaded in the victim and one of its crash
// types is written to /sys/kernel/debug/provoke-crash/DIRECT by
// `ezone-fault lkdtm` from a child process of the agent, so the crash happens
// in a process's context, never in the agent's.
//
// What each type did is read from typed fields of ezone-fault's result line
// (child=, lkdtm=, line=), never from prose:
//   - the kernel crashed or hung: the agent does not answer in time, or the
//     child was killed; the core's console, pvpanic and heartbeat decide;
//   - LKDTM said XFAIL (it cannot run here, e.g. a config this kernel lacks):
//     declined, the check is skipped with LKDTM's words;
//   - LKDTM said FAIL (it ran and the kernel did not stop it), the kernel
//     only warned, or the type returned with nothing to show: the fault is
//     confirmed and nothing showed, which the verdict calls "absorbed" --
//     never a pass of a crash check.
//
// Options (suite fault-options): wait_ms=<n>, how long ezone-fault watches the
// type before it reports (default 2000).
#include <string>

#include "ezone/sdk.h"

namespace {

// Every type declares the signs its crash shows, plus FAULT_CONFIRMED so that
// a kernel that absorbs it is reported as absorbed rather than as an error.
constexpr uint32_t kCrash = EZONE_SIGN_GUEST_KERNEL_CRASH | EZONE_SIGN_FAULT_CONFIRMED;
constexpr uint32_t kHang =
    EZONE_SIGN_GUEST_HANG | EZONE_SIGN_GUEST_KERNEL_CRASH | EZONE_SIGN_FAULT_CONFIRMED;
constexpr uint32_t kNoticed = EZONE_SIGN_FAULT_CONFIRMED | EZONE_SIGN_GUEST_KERNEL_CRASH;
constexpr ezone_zone kZone = EZONE_ZONE_GUEST_KERNEL;

class LkdtmFault {
 public:
  // LKDTM 6.1's crash types that make sense in a VM. Left out, and why
  // (docs/lkdtm.md): PPC_SLB_MULTIHIT (powerpc), CORRUPT_PAC (arm64 pointer
  // authentication), DOUBLE_FAULT (x86_32 only), WRITE_OPD (function
  // descriptors: powerpc64/ia64), UNSET_SMEP (needs native_write_cr4, which
  // the kernel exports only when it builds LKDTM itself), REPORT_STACK,
  // REPORT_STACK_CANARY, ATOMIC_TIMING, REFCOUNT_TIMING (reports and
  // benchmarks, not faults), CFI_FORWARD_PROTO, CFI_BACKWARD (need Clang CFI
  // or shadow call stacks, which a GCC-built x86 kernel cannot have),
  // UNALIGNED_LOAD_STORE_WRITE (XFAIL on x86: unaligned access is allowed),
  // STACKLEAK_ERASING (XFAIL: Debian builds without the STACKLEAK GCC plugin).
  // A type that says XFAIL on another kernel is skipped with LKDTM's words.
  static constexpr ezone_fault_variant kVariants[] = {
      // bugs.c: exceptions, BUG, panics, lockups, stack abuse.
      {"PANIC", kZone, kCrash, "panic() (console panic, pvpanic)"},
      {"BUG", kZone, kCrash, "BUG() (oops: kernel BUG at)"},
      {"WARNING", kZone, kNoticed, "WARN_ON() (the kernel warns and goes on)"},
      {"WARNING_MESSAGE", kZone, kNoticed, "WARN() with a message"},
      {"EXCEPTION", kZone, kCrash, "NULL pointer write (oops)"},
      {"LOOP", kZone, kHang, "endless loop in the kernel"},
      {"EXHAUST_STACK", kZone, kCrash, "recursion until the kernel stack's guard page"},
      {"CORRUPT_STACK", kZone, kCrash, "overwrite the return address (stack protector)"},
      {"CORRUPT_STACK_STRONG", kZone, kCrash, "overwrite the stack, strong stack protector"},
      {"SOFTLOCKUP", kZone, kHang, "spin with preemption off (soft lockup watchdog)"},
      {"HARDLOCKUP", kZone, kHang, "spin with interrupts off (hard lockup)"},
      {"SPINLOCKUP", kZone, kHang, "take a held spinlock again"},
      {"HUNG_TASK", kZone, kHang, "sleep uninterruptibly forever (hung task detector)"},
      {"OVERFLOW_SIGNED", kZone, kNoticed, "signed integer overflow (UBSAN when built in)"},
      {"OVERFLOW_UNSIGNED", kZone, kNoticed, "unsigned integer wrap"},
      {"ARRAY_BOUNDS", kZone, kNoticed, "out-of-bounds array index (UBSAN bounds)"},
      {"CORRUPT_LIST_ADD", kZone, kCrash, "list_add() on a corrupted list (list debugging)"},
      {"CORRUPT_LIST_DEL", kZone, kCrash, "list_del() on a corrupted list (list debugging)"},
      {"STACK_GUARD_PAGE_LEADING", kZone, kCrash, "read below the kernel stack"},
      {"STACK_GUARD_PAGE_TRAILING", kZone, kCrash, "read above the kernel stack"},
      // fortify.c: FORTIFY_SOURCE.
      {"FORTIFY_STR_OBJECT", kZone, kCrash, "strcpy() past an object (FORTIFY_SOURCE)"},
      {"FORTIFY_STR_MEMBER", kZone, kCrash, "strncpy() past a struct member"},
      {"FORTIFY_MEM_OBJECT", kZone, kCrash, "memcpy() past an object"},
      {"FORTIFY_MEM_MEMBER", kZone, kCrash, "memcpy() past a struct member"},
      {"FORTIFY_STRSCPY", kZone, kCrash, "strscpy() with a wrong size"},
      // heap.c: slab and page allocator misuse.
      {"SLAB_LINEAR_OVERFLOW", kZone, kNoticed, "write past a kmalloc() object"},
      {"VMALLOC_LINEAR_OVERFLOW", kZone, kCrash, "write past a vmalloc() area (guard page)"},
      {"WRITE_AFTER_FREE", kZone, kNoticed, "write to a freed slab object"},
      {"READ_AFTER_FREE", kZone, kNoticed, "read a freed slab object"},
      {"WRITE_BUDDY_AFTER_FREE", kZone, kNoticed, "write to a freed page"},
      {"READ_BUDDY_AFTER_FREE", kZone, kNoticed, "read a freed page"},
      {"SLAB_INIT_ON_ALLOC", kZone, kNoticed, "is a new slab object zeroed (init_on_alloc)"},
      {"BUDDY_INIT_ON_ALLOC", kZone, kNoticed, "is a new page zeroed (init_on_alloc)"},
      {"SLAB_FREE_DOUBLE", kZone, kCrash, "kfree() twice"},
      {"SLAB_FREE_CROSS", kZone, kCrash, "free an object into another cache"},
      {"SLAB_FREE_PAGE", kZone, kCrash, "free a page address into a slab cache"},
      // perms.c: memory permissions.
      {"WRITE_RO", kZone, kCrash, "write to read-only data"},
      {"WRITE_RO_AFTER_INIT", kZone, kCrash, "write to __ro_after_init data"},
      {"WRITE_KERN", kZone, kCrash, "write to kernel text"},
      {"EXEC_DATA", kZone, kCrash, "execute the data segment (NX)"},
      {"EXEC_STACK", kZone, kCrash, "execute the stack (NX)"},
      {"EXEC_KMALLOC", kZone, kCrash, "execute kmalloc() memory (NX)"},
      {"EXEC_VMALLOC", kZone, kCrash, "execute vmalloc() memory (NX)"},
      {"EXEC_RODATA", kZone, kCrash, "execute read-only data (NX)"},
      {"EXEC_USERSPACE", kZone, kCrash, "execute user memory (SMEP)"},
      {"EXEC_NULL", kZone, kCrash, "jump to NULL"},
      {"ACCESS_USERSPACE", kZone, kCrash, "read user memory directly (SMAP)"},
      {"ACCESS_NULL", kZone, kCrash, "read through NULL"},
      // refcount.c: refcount_t saturation and misuse.
      {"REFCOUNT_INC_OVERFLOW", kZone, kNoticed, "refcount_inc() past the maximum"},
      {"REFCOUNT_ADD_OVERFLOW", kZone, kNoticed, "refcount_add() past the maximum"},
      {"REFCOUNT_INC_NOT_ZERO_OVERFLOW", kZone, kNoticed, "refcount_inc_not_zero() overflow"},
      {"REFCOUNT_ADD_NOT_ZERO_OVERFLOW", kZone, kNoticed, "refcount_add_not_zero() overflow"},
      {"REFCOUNT_DEC_ZERO", kZone, kNoticed, "refcount_dec() to zero"},
      {"REFCOUNT_DEC_NEGATIVE", kZone, kNoticed, "refcount_dec() below zero"},
      {"REFCOUNT_DEC_AND_TEST_NEGATIVE", kZone, kNoticed, "refcount_dec_and_test() below zero"},
      {"REFCOUNT_SUB_AND_TEST_NEGATIVE", kZone, kNoticed, "refcount_sub_and_test() below zero"},
      {"REFCOUNT_INC_ZERO", kZone, kNoticed, "refcount_inc() from zero (use after free)"},
      {"REFCOUNT_ADD_ZERO", kZone, kNoticed, "refcount_add() from zero"},
      {"REFCOUNT_INC_SATURATED", kZone, kNoticed, "refcount_inc() of a saturated count"},
      {"REFCOUNT_DEC_SATURATED", kZone, kNoticed, "refcount_dec() of a saturated count"},
      {"REFCOUNT_ADD_SATURATED", kZone, kNoticed, "refcount_add() of a saturated count"},
      {"REFCOUNT_INC_NOT_ZERO_SATURATED", kZone, kNoticed, "refcount_inc_not_zero() saturated"},
      {"REFCOUNT_ADD_NOT_ZERO_SATURATED", kZone, kNoticed, "refcount_add_not_zero() saturated"},
      {"REFCOUNT_DEC_AND_TEST_SATURATED", kZone, kNoticed, "refcount_dec_and_test() saturated"},
      {"REFCOUNT_SUB_AND_TEST_SATURATED", kZone, kNoticed, "refcount_sub_and_test() saturated"},
      // usercopy.c: hardened usercopy.
      {"USERCOPY_SLAB_SIZE_TO", kZone, kCrash, "copy_to_user() past a slab object"},
      {"USERCOPY_SLAB_SIZE_FROM", kZone, kCrash, "copy_from_user() past a slab object"},
      {"USERCOPY_SLAB_WHITELIST_TO", kZone, kCrash, "copy_to_user() outside a whitelist"},
      {"USERCOPY_SLAB_WHITELIST_FROM", kZone, kCrash, "copy_from_user() outside a whitelist"},
      {"USERCOPY_STACK_FRAME_TO", kZone, kCrash, "copy_to_user() of another stack frame"},
      {"USERCOPY_STACK_FRAME_FROM", kZone, kCrash, "copy_from_user() into another stack frame"},
      {"USERCOPY_STACK_BEYOND", kZone, kCrash, "copy_to_user() beyond the stack"},
      {"USERCOPY_VMALLOC", kZone, kCrash, "copy_to_user() across vmalloc() areas"},
      {"USERCOPY_FOLIO", kZone, kCrash, "copy_to_user() across a folio"},
      {"USERCOPY_KERNEL", kZone, kCrash, "copy_to_user() of kernel text"},
  };

  static void Fire(std::string_view variant, const ezone::sdk::Options& options,
                   ezone::sdk::FaultTarget& target) {
    ezone::sdk::AgentReply insmod = target.AgentCall("insmod lkdtm");
    if (insmod.unanswered()) throw std::runtime_error("insmod lkdtm: " + insmod.text);
    if (!insmod.ok()) {
      const std::string& reply = insmod.text;
      throw ezone::sdk::Declined("lkdtm.ko could not be loaded in the guest (" + reply +
                                 "); a guest image built with -DEZONE_LKDTM=OFF has none");
    }
    uint64_t wait_ms = options.GetNumber("wait_ms", 2000);
    std::string command =
        "runout ezone-fault lkdtm " + std::string(variant) + " " + std::to_string(wait_ms);
    // A type that crashes or hangs the guest leaves no one to answer: the
    // core's console, pvpanic and heartbeat watch decide then.
    uint32_t timeout_ms = static_cast<uint32_t>(wait_ms + 2000);
    ezone::sdk::AgentReply r = target.AgentCall(command, timeout_ms);
    if (r.unanswered()) return;
    const std::string& reply = r.text;
    if (!r.ok()) throw std::runtime_error("ezone-fault lkdtm " + std::string(variant) + ": " + reply);
    std::string child = Field(reply, "child");
    std::string said = Field(reply, "lkdtm");
    std::string line = Rest(reply, "line");
    std::string what = "LKDTM " + std::string(variant);
    if (said == "xfail") {
      throw ezone::sdk::Declined(what + " cannot run on this kernel: " + line);
    }
    if (said == "fail") {
      target.Observed(EZONE_SIGN_FAULT_CONFIRMED,
                      what + " ran and the guest kernel did not stop it: " + line);
    } else if (said == "warning") {
      target.Observed(EZONE_SIGN_FAULT_CONFIRMED, what + ": the guest kernel warned and went on: " + line);
    } else if (child == "exited") {
      target.Observed(EZONE_SIGN_FAULT_CONFIRMED,
                      what + " returned and LKDTM reported nothing: the kernel absorbed it");
    }
    // child=killed (an oops ended it) or running (stuck in the kernel): the
    // console and the heartbeat show what happened.
  }

 private:
  // The value of "<key>=" up to the next blank in ezone-fault's result line.
  static std::string Field(const std::string& reply, const std::string& key) {
    size_t at = reply.find(" " + key + "=");
    if (at == std::string::npos) return "";
    at += key.size() + 2;
    return reply.substr(at, reply.find(' ', at) - at);
  }
  // The rest of the line after "<key>=" (LKDTM's own words, blanks and all).
  static std::string Rest(const std::string& reply, const std::string& key) {
    size_t at = reply.find(" " + key + "=");
    return at == std::string::npos ? "" : reply.substr(at + key.size() + 2);
  }
};

}  // namespace

EZONE_FAULT_PLUGIN(LkdtmFault, "lkdtm", "0.1.0",
                   "the kernel's own crash tests, LKDTM, in the guest kernel (E-Zone 3)")
