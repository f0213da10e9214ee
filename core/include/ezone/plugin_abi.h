/*
 * ezone plugin ABI: the only thing that crosses the boundary between the
 * ezone core and a plugin shared library.
 *
 * Rules (see docs/ARCHITECTURE.md, "Plugin boundary"):
 *  - plain C: no STL types, no exceptions; every fallible operation returns an
 *    ezone_status and writes a human-readable message into a caller-owned
 *    buffer (msg, msg_size), always NUL-terminated;
 *  - EZONE_DECLINED means "cannot run here, because <msg>": the core turns it
 *    into a skipped check, never into a failure;
 *  - one exported entry point, EZONE_PLUGIN_ENTRY_SYMBOL, returns a
 *    descriptor with static storage duration; calling it must not do any
 *    work beyond returning that pointer (listing plugins runs it);
 *  - libraries are never unloaded while the core runs.
 *
 * Versions (EZONE_PLUGIN_ABI_MAJOR.MINOR):
 *  - a minor version only appends: fields at the end of a struct, values at
 *    the end of an enum, bits. A struct that can grow carries struct_size
 *    (sizeof as the writer of the struct was compiled), and the reader reads a
 *    field only when struct_size covers it: EZONE_HAS_FIELD below. The core
 *    loads a plugin of any minor, older or newer than itself, whose structs
 *    are at least as large as in the minor it declares (EZONE_*_SIZE_1_*
 *    below; a minor newer than the core's is held to the core's table);
 *  - an optional operation is a NULL function pointer, and NULL means "not
 *    supported"; each op below says whether it is required. A required op
 *    that is NULL, or a capability bit whose op is NULL, makes the core
 *    refuse the plugin with a message;
 *  - a plugin returns only EZONE_OK, EZONE_DECLINED or EZONE_FAILED from its
 *    ops; the core reads any other value as EZONE_FAILED. EZONE_TIMEOUT and
 *    EZONE_VM_GONE come from the core's agent_command only.
 *
 * Changelog:
 *  1.0  first release. During 1.0, later builds appended
 *       ezone_vmm_ops.guest_memory and .save_snapshot,
 *       ezone_guest_spec.restore_from, and ezone_fault_target.observed,
 *       .guest_memory, .guest_memory_mib: a plugin that declares 1.0 may
 *       lack them (struct_size says), a 1.0 core may not pass them.
 *  1.1  EZONE_SIGN_HOST_*, EZONE_CAP_REMOTE_HOST; the fields above are
 *       always there.
 *  1.2  EZONE_EVENT_PLUGIN_ERROR.
 *  1.3  EZONE_TIMEOUT and EZONE_VM_GONE from agent_command; optional ops
 *       (NULL) defined per op; the size tables and EZONE_HAS_FIELD; a core
 *       loads plugins whose structs are smaller than its own (older minors).
 *  1.4  EZONE_CAP_ADOPT: restore_from "running:<name>" (no struct change).
 *  1.5  EZONE_CAP_HOST_WIDE, the first capability of fault plugins (no
 *       struct change).
 *
 * Most authors do not use this header directly: ezone/sdk.h wraps it in a
 * C++ class and one macro.
 */
#ifndef EZONE_PLUGIN_ABI_H_
#define EZONE_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A different major means incompatible structures: the core refuses to load. */
#define EZONE_PLUGIN_ABI_MAJOR 1u
/* Minor versions only append; struct_size tells which fields are present.
 * See "Versions" and "Changelog" above. */
#define EZONE_PLUGIN_ABI_MINOR 5u

#define EZONE_PLUGIN_ENTRY_SYMBOL "ezone_plugin_entry"

typedef enum ezone_status {
  EZONE_OK = 0,
  EZONE_DECLINED = 1, /* not possible on this host; msg says why -> skip */
  EZONE_FAILED = 2,   /* tried and failed; msg says why -> check error */
  /* ABI 1.3, from ezone_fault_target.agent_command only: the agent did not
   * answer within timeout_ms (the guest may be hung, too busy, or dead
   * without the core having seen it yet). A 1.2 core says EZONE_FAILED. */
  EZONE_TIMEOUT = 3,
  /* ABI 1.3, from ezone_fault_target.agent_command only: the VM ended (its
   * VMM exited, the guest panicked or stopped) before the agent answered;
   * the reply says how. Returned as soon as the core sees it, without
   * waiting out timeout_ms. A 1.2 core waits and says EZONE_FAILED. */
  EZONE_VM_GONE = 4
} ezone_status;

typedef enum ezone_plugin_kind {
  EZONE_KIND_VMM = 1,
  EZONE_KIND_FAULT = 2
} ezone_plugin_kind;

/* The paper's error zones. */
typedef enum ezone_zone {
  EZONE_ZONE_HOST_KERNEL = 1,
  EZONE_ZONE_HOST_USER = 2,
  EZONE_ZONE_GUEST_KERNEL = 3,
  EZONE_ZONE_GUEST_USER = 4
} ezone_zone;

/* VMM capability bits (optional abilities, instead of dynamic_cast). */
#define EZONE_CAP_PANIC_EVENT (1ull << 0)  /* reports GUEST_PANICKED       */
#define EZONE_CAP_PROCESS (1ull << 1)      /* the VM is a host process     */
#define EZONE_CAP_SNAPSHOT (1ull << 2)     /* save/restore                 */
#define EZONE_CAP_GUEST_MEMORY (1ull << 3) /* read/write guest memory      */
#define EZONE_CAP_WITNESS (1ull << 4)      /* can run a second VM beside   */
/* Runs its VMs on another host when the options carry uri=<libvirt URI> and
 * guest_dir=<the guest image's directory there>: the core's nested host
 * (ABI 1.1). */
#define EZONE_CAP_REMOTE_HOST (1ull << 5)
/* create() with restore_from "running:<name>" takes over <name>, a VM that
 * already exists, paused, on the (remote) host the options name, instead of
 * starting one: it attaches its consoles, resumes it and owns it from then
 * on (destroy() ends it). The core's nested host uses it for the victim it
 * saved inside the host's state (ABI 1.4). */
#define EZONE_CAP_ADOPT (1ull << 6)

/* Fault capability bits (ezone_plugin_descriptor.capabilities of a fault
 * plugin). Its faults load the host that every VM on it shares (its disk,
 * network, memory), not only the victim: a check with one runs alone on its
 * machine, never beside another check whose host readings it would spoil
 * (ezone run --jobs, ctest's RUN_SERIAL). On a nested host the load stays
 * inside that host (ABI 1.5). */
#define EZONE_CAP_HOST_WIDE (1ull << 7)

/* How a fault shows when it fired; the core watches for these. */
#define EZONE_SIGN_GUEST_KERNEL_CRASH (1u << 0) /* oops/panic on console, pvpanic */
#define EZONE_SIGN_GUEST_HANG (1u << 1)         /* agent heartbeat lost         */
#define EZONE_SIGN_VMM_EXIT (1u << 2)           /* the VMM process ended        */
#define EZONE_SIGN_GUEST_PROCESS_DIED (1u << 3) /* a guest program died of a signal */
#define EZONE_SIGN_GUEST_OOM_KILL (1u << 4)     /* the guest's OOM killer acted */
/* The fault plugin itself confirmed the fault took place (e.g. a hog ran its
 * course, bits were flipped and read back) even if nothing else showed. */
#define EZONE_SIGN_FAULT_CONFIRMED (1u << 5)
/* E-Zone 1, on a nested host (the host under test is a VM the core watches):
 * its kernel oopsed or panicked (console, pvpanic, its VMM ended) ... */
#define EZONE_SIGN_HOST_KERNEL_CRASH (1u << 6)
/* ... or its agent's heartbeat stopped. */
#define EZONE_SIGN_HOST_HANG (1u << 7)

/* Events a VMM plugin reports about a running VM. */
typedef enum ezone_vm_event {
  EZONE_EVENT_GUEST_PANICKED = 1, /* detail: VMM's panic information        */
  EZONE_EVENT_VMM_EXITED = 2,     /* detail: "exit status N" / "signal N"   */
  EZONE_EVENT_GUEST_STOPPED = 3,  /* guest shut down or powered off         */
  EZONE_EVENT_NOTE = 4,           /* anything worth keeping as evidence     */
  /* The plugin can no longer watch this VM (its VMM's channel said something
   * it cannot read: detail says what); the check becomes an error. Since
   * ABI 1.2; an older core keeps it as a note. */
  EZONE_EVENT_PLUGIN_ERROR = 5
} ezone_vm_event;

/*
 * Callbacks the core gives a VMM plugin for one VM. They may be called from
 * any plugin thread, concurrently; they never block for long. The bytes are
 * raw: no line framing is expected from the plugin.
 */
typedef struct ezone_vm_sink {
  void *core;
  /* The guest's kernel console (first serial port). */
  void (*console)(void *core, const char *bytes, size_t size);
  /* The agent's control channel (second serial port), guest to host. */
  void (*control)(void *core, const char *bytes, size_t size);
  void (*event)(void *core, ezone_vm_event event, const char *detail);
} ezone_vm_sink;

/* What to boot. Strings are owned by the core and live until destroy(). */
typedef struct ezone_guest_spec {
  size_t struct_size; /* the core's sizeof: EZONE_HAS_FIELD(spec, ...) */
  const char *kernel;    /* bzImage                                       */
  const char *initramfs; /* cpio archive                                   */
  const char *cmdline;   /* kernel command line (carries the agent nonce)  */
  uint32_t memory_mib;
  uint32_t vcpus;
  const char *role;    /* "victim" or "witness"                            */
  const char *options; /* "key=value;key=value" from the suite, may be ""  */
  /* Appended during 1.0 (check with EZONE_HAS_FIELD). EZONE_CAP_SNAPSHOT:
   * restore this saved state (from save_snapshot with the same spec) instead
   * of booting; NULL or "" to boot. EZONE_CAP_ADOPT: "running:<name>" takes
   * over that paused VM instead (see the capability). */
  const char *restore_from;
} ezone_guest_spec;

/* The plugin's operations for one VMM. "Required" ops must not be NULL (the
 * core refuses the plugin); an optional op may be NULL, and the core then
 * does what the op's comment says. */
typedef struct ezone_vmm_ops {
  size_t struct_size; /* sizeof(ezone_vmm_ops) as the plugin was compiled */
  /* Optional. Can this VMM run here with these options? Must be cheap and
   * idempotent. NULL: it can run anywhere (create() may still decline). */
  ezone_status (*probe)(const char *options, char *msg, size_t msg_size);
  /* Required. Boot a VM; returns once it is started (not once the guest is
   * up). */
  ezone_status (*create)(const ezone_guest_spec *spec, const ezone_vm_sink *sink,
                         void **vm, char *msg, size_t msg_size);
  /* Required. Write bytes to the agent's control channel, host to guest. */
  ezone_status (*send_control)(void *vm, const char *bytes, size_t size,
                               char *msg, size_t msg_size);
  /* Optional. The host process that runs the VM, or -1 (EZONE_CAP_PROCESS).
   * NULL: -1, the core has no process to watch. */
  int64_t (*vmm_pid)(void *vm);
  /* Optional. Describe the VMM build, e.g. "QEMU 7.2.22 (tcg)". NULL (or a
   * status other than EZONE_OK): the descriptor's name and version. */
  ezone_status (*version)(void *vm, char *out, size_t out_size);
  /* Required. Stop the VM and release everything it holds; must not fail or
   * block indefinitely. After it returns no callback of this VM runs again. */
  void (*destroy)(void *vm);
  /* --- appended during 1.0: present when struct_size covers them --- */
  /* Optional; required with EZONE_CAP_GUEST_MEMORY. Read (write == 0) or
   * write guest-physical memory. NULL: no guest memory access (the core
   * ignores this op when the capability bit is not set). */
  ezone_status (*guest_memory)(void *vm, int write, uint64_t guest_phys,
                               void *buffer, size_t size, char *msg,
                               size_t msg_size);
  /* Optional; required with EZONE_CAP_SNAPSHOT. Save the running VM's whole
   * state to `path`, for create() with restore_from. The VM need not run
   * afterwards. NULL: no snapshots (ignored without the capability bit). */
  ezone_status (*save_snapshot)(void *vm, const char *path, char *msg,
                                size_t msg_size);
} ezone_vmm_ops;

/* What a fault plugin may do to its target. Owned by the core, which fills
 * every field (no NULL). It has no struct_size: a 1.1 or later core passes
 * all the fields below; nothing has been appended since 1.1. */
typedef struct ezone_fault_target {
  void *core;
  /* Send one command line to the in-guest agent and wait for its reply:
   * "OK ..." -> EZONE_OK, "ERR ..." -> EZONE_FAILED, no answer within
   * timeout_ms -> EZONE_TIMEOUT, the VM ended first -> EZONE_VM_GONE (1.3;
   * a 1.2 core says EZONE_FAILED for both). reply gets the agent's text
   * after OK/ERR, or the core's explanation. See guest/agent/PROTOCOL.md. */
  ezone_status (*agent_command)(void *core, const char *command,
                                uint32_t timeout_ms, char *reply,
                                size_t reply_size);
  /* The VMM's host process, or -1. */
  int64_t (*vmm_pid)(void *core);
  const char *vmm_name;
  /* Tell the core what the fault itself saw, e.g. EZONE_SIGN_GUEST_PROCESS_DIED
   * with "ezone-fault segv: killed by signal 11". Counts as a sign when the
   * variant declared it. */
  void (*observed)(void *core, uint32_t sign, const char *evidence);
  /* The victim's guest memory, when its VMM has EZONE_CAP_GUEST_MEMORY;
   * EZONE_DECLINED otherwise. Same contract as ezone_vmm_ops.guest_memory. */
  ezone_status (*guest_memory)(void *core, int write, uint64_t guest_phys,
                               void *buffer, size_t size, char *msg,
                               size_t msg_size);
  /* Guest memory size in MiB (the valid guest-physical range starts at 0). */
  uint32_t guest_memory_mib;
} ezone_fault_target;

/* One variant of a fault family, e.g. kerncrash/divzero. */
typedef struct ezone_fault_variant {
  const char *name;
  ezone_zone zone;
  uint32_t signs;      /* EZONE_SIGN_* that show it fired            */
  const char *summary; /* one line for listings and reports          */
} ezone_fault_variant;

typedef struct ezone_fault_ops {
  size_t struct_size; /* sizeof(ezone_fault_ops) as the plugin was compiled */
  /* Required. Inject the fault. Returns once it is armed or done; the core
   * observes. */
  ezone_status (*fire)(const char *variant, const char *options,
                       const ezone_fault_target *target, char *msg,
                       size_t msg_size);
} ezone_fault_ops;

typedef struct ezone_plugin_descriptor {
  uint32_t abi_major;
  uint32_t abi_minor;
  size_t struct_size; /* sizeof(ezone_plugin_descriptor), plugin's compile */
  ezone_plugin_kind kind;
  const char *name; /* unique per kind, used by suites: "qemu", "kerncrash" */
  const char *version;
  const char *summary;
  uint64_t capabilities;             /* EZONE_CAP_*, VMM plugins          */
  const ezone_vmm_ops *vmm;          /* kind == EZONE_KIND_VMM            */
  const ezone_fault_ops *fault;      /* kind == EZONE_KIND_FAULT          */
  const ezone_fault_variant *variants;
  size_t variant_count;
} ezone_plugin_descriptor;

/*
 * Minimum struct sizes per minor version: the end of the last field each
 * minor guarantees. A struct_size below the declared minor's minimum (or
 * below 1.0's) is refused; fields past the minimum are read only when
 * struct_size covers them (EZONE_HAS_FIELD).
 */
#define EZONE_FIELD_END(type, field) \
  (offsetof(type, field) + sizeof(((type *)0)->field))
/* Does the struct at ptr (with a struct_size) contain `field`? */
#define EZONE_HAS_FIELD(ptr, type, field) \
  ((ptr) != NULL && (ptr)->struct_size >= EZONE_FIELD_END(type, field))

#define EZONE_DESCRIPTOR_SIZE_1_0 \
  EZONE_FIELD_END(ezone_plugin_descriptor, variant_count)
#define EZONE_DESCRIPTOR_SIZE_1_1 EZONE_DESCRIPTOR_SIZE_1_0
#define EZONE_DESCRIPTOR_SIZE_1_2 EZONE_DESCRIPTOR_SIZE_1_0
#define EZONE_DESCRIPTOR_SIZE_1_3 EZONE_DESCRIPTOR_SIZE_1_0
#define EZONE_DESCRIPTOR_SIZE_1_4 EZONE_DESCRIPTOR_SIZE_1_0
#define EZONE_DESCRIPTOR_SIZE_1_5 EZONE_DESCRIPTOR_SIZE_1_0

#define EZONE_VMM_OPS_SIZE_1_0 EZONE_FIELD_END(ezone_vmm_ops, destroy)
#define EZONE_VMM_OPS_SIZE_1_1 EZONE_FIELD_END(ezone_vmm_ops, save_snapshot)
#define EZONE_VMM_OPS_SIZE_1_2 EZONE_VMM_OPS_SIZE_1_1
#define EZONE_VMM_OPS_SIZE_1_3 EZONE_VMM_OPS_SIZE_1_1
#define EZONE_VMM_OPS_SIZE_1_4 EZONE_VMM_OPS_SIZE_1_1
#define EZONE_VMM_OPS_SIZE_1_5 EZONE_VMM_OPS_SIZE_1_1

#define EZONE_FAULT_OPS_SIZE_1_0 EZONE_FIELD_END(ezone_fault_ops, fire)
#define EZONE_FAULT_OPS_SIZE_1_1 EZONE_FAULT_OPS_SIZE_1_0
#define EZONE_FAULT_OPS_SIZE_1_2 EZONE_FAULT_OPS_SIZE_1_0
#define EZONE_FAULT_OPS_SIZE_1_3 EZONE_FAULT_OPS_SIZE_1_0
#define EZONE_FAULT_OPS_SIZE_1_4 EZONE_FAULT_OPS_SIZE_1_0
#define EZONE_FAULT_OPS_SIZE_1_5 EZONE_FAULT_OPS_SIZE_1_0

#define EZONE_GUEST_SPEC_SIZE_1_0 EZONE_FIELD_END(ezone_guest_spec, options)
#define EZONE_GUEST_SPEC_SIZE_1_1 EZONE_FIELD_END(ezone_guest_spec, restore_from)
#define EZONE_GUEST_SPEC_SIZE_1_2 EZONE_GUEST_SPEC_SIZE_1_1
#define EZONE_GUEST_SPEC_SIZE_1_3 EZONE_GUEST_SPEC_SIZE_1_1
#define EZONE_GUEST_SPEC_SIZE_1_4 EZONE_GUEST_SPEC_SIZE_1_1
#define EZONE_GUEST_SPEC_SIZE_1_5 EZONE_GUEST_SPEC_SIZE_1_1

/*
 * The entry point. core_abi_major is the core's EZONE_PLUGIN_ABI_MAJOR; a
 * plugin may return NULL when it cannot serve that major.
 */
typedef const ezone_plugin_descriptor *(*ezone_plugin_entry_fn)(
    uint32_t core_abi_major);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EZONE_PLUGIN_ABI_H_ */
