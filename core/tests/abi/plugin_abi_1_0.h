/*
 * FROZEN: the plugin ABI header as ezone first released ABI 1.0 (commit
 * fecde09, core/include/ezone/plugin_abi.h), kept byte for byte below this
 * comment. Test plugins built against it prove that a plugin compiled for
 * 1.0 still loads and runs in today's core (core/tests/abi/). Never edit it.
 */
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
/* Minor versions only append fields; struct_size tells which are present. */
#define EZONE_PLUGIN_ABI_MINOR 0u

#define EZONE_PLUGIN_ENTRY_SYMBOL "ezone_plugin_entry"

typedef enum ezone_status {
  EZONE_OK = 0,
  EZONE_DECLINED = 1, /* not possible on this host; msg says why -> skip */
  EZONE_FAILED = 2    /* tried and failed; msg says why -> check error */
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

/* How a fault shows when it fired; the core watches for these. */
#define EZONE_SIGN_GUEST_KERNEL_CRASH (1u << 0) /* oops/panic on console, pvpanic */
#define EZONE_SIGN_GUEST_HANG (1u << 1)         /* agent heartbeat lost         */
#define EZONE_SIGN_VMM_EXIT (1u << 2)           /* the VMM process ended        */

/* Events a VMM plugin reports about a running VM. */
typedef enum ezone_vm_event {
  EZONE_EVENT_GUEST_PANICKED = 1, /* detail: VMM's panic information        */
  EZONE_EVENT_VMM_EXITED = 2,     /* detail: "exit status N" / "signal N"   */
  EZONE_EVENT_GUEST_STOPPED = 3,  /* guest shut down or powered off         */
  EZONE_EVENT_NOTE = 4            /* anything worth keeping as evidence     */
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
  size_t struct_size;
  const char *kernel;    /* bzImage                                       */
  const char *initramfs; /* cpio archive                                   */
  const char *cmdline;   /* kernel command line (carries the agent nonce)  */
  uint32_t memory_mib;
  uint32_t vcpus;
  const char *role;    /* "victim" or "witness"                            */
  const char *options; /* "key=value;key=value" from the suite, may be ""  */
} ezone_guest_spec;

typedef struct ezone_vmm_ops {
  size_t struct_size;
  /* Can this VMM run here with these options? Must be cheap and idempotent. */
  ezone_status (*probe)(const char *options, char *msg, size_t msg_size);
  /* Boot a VM; returns once it is started (not once the guest is up). */
  ezone_status (*create)(const ezone_guest_spec *spec, const ezone_vm_sink *sink,
                         void **vm, char *msg, size_t msg_size);
  /* Write bytes to the agent's control channel, host to guest. */
  ezone_status (*send_control)(void *vm, const char *bytes, size_t size,
                               char *msg, size_t msg_size);
  /* The host process that runs the VM, or -1 (EZONE_CAP_PROCESS). */
  int64_t (*vmm_pid)(void *vm);
  /* Describe the VMM build, e.g. "QEMU 7.2.22 (tcg)". */
  ezone_status (*version)(void *vm, char *out, size_t out_size);
  /* Stop the VM and release everything it holds; must not fail or block
   * indefinitely. After it returns no callback of this VM runs again. */
  void (*destroy)(void *vm);
} ezone_vmm_ops;

/* What a fault plugin may do to its target. Owned by the core. */
typedef struct ezone_fault_target {
  void *core;
  /* Send one command line to the in-guest agent and wait for its reply
   * ("OK ..." -> EZONE_OK, "ERR ..." or timeout -> EZONE_FAILED). */
  ezone_status (*agent_command)(void *core, const char *command,
                                uint32_t timeout_ms, char *reply,
                                size_t reply_size);
  /* The VMM's host process, or -1. */
  int64_t (*vmm_pid)(void *core);
  const char *vmm_name;
} ezone_fault_target;

/* One variant of a fault family, e.g. kerncrash/divzero. */
typedef struct ezone_fault_variant {
  const char *name;
  ezone_zone zone;
  uint32_t signs;      /* EZONE_SIGN_* that show it fired            */
  const char *summary; /* one line for listings and reports          */
} ezone_fault_variant;

typedef struct ezone_fault_ops {
  size_t struct_size;
  /* Inject the fault. Returns once it is armed or done; the core observes. */
  ezone_status (*fire)(const char *variant, const char *options,
                       const ezone_fault_target *target, char *msg,
                       size_t msg_size);
} ezone_fault_ops;

typedef struct ezone_plugin_descriptor {
  uint32_t abi_major;
  uint32_t abi_minor;
  size_t struct_size;
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
 * The entry point. core_abi_major is the core's EZONE_PLUGIN_ABI_MAJOR; a
 * plugin may return NULL when it cannot serve that major.
 */
typedef const ezone_plugin_descriptor *(*ezone_plugin_entry_fn)(
    uint32_t core_abi_major);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EZONE_PLUGIN_ABI_H_ */
