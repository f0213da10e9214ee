/*
 * Descriptors at the edges of the minor-version rule, built against today's
 * header with one ABI_* macro defined:
 *
 *  ABI_TOO_SMALL       a descriptor whose struct_size is below 1.0's: refused
 *  ABI_MINOR_LIES      declares 1.2 with a 1.0-sized VMM op table: refused
 *  ABI_CAP_WITHOUT_OP  EZONE_CAP_SNAPSHOT with save_snapshot NULL: refused
 *  ABI_FROM_1_9        a plugin of a future 1.9: larger structs, fields and
 *                      ops this core does not know, NULL optional ops: loads
 */
#include <stddef.h>
#include <string.h>

#include "ezone/plugin_abi.h"

#define EXPORT __attribute__((visibility("default")))

static ezone_status create(const ezone_guest_spec *spec, const ezone_vm_sink *sink,
			   void **vm, char *msg, size_t msg_size)
{
	(void)spec; (void)sink; (void)vm;
	if (msg_size)
		strncpy(msg, "not really", msg_size - 1);
	return EZONE_DECLINED;
}
static ezone_status send_control(void *vm, const char *b, size_t n, char *msg, size_t s)
{
	(void)vm; (void)b; (void)n; (void)msg; (void)s;
	return EZONE_OK;
}
static void destroy(void *vm) { (void)vm; }

#if defined(ABI_FROM_1_9)
/* 1.9 appended two ops and a descriptor field (this core knows none). */
struct vmm_ops_1_9 {
	ezone_vmm_ops base;
	ezone_status (*pause)(void *vm);
	ezone_status (*resume)(void *vm);
};
struct descriptor_1_9 {
	ezone_plugin_descriptor base;
	const char *homepage;
};
static ezone_status nothing(void *vm) { (void)vm; return EZONE_OK; }
static const struct vmm_ops_1_9 kOps = {
	{ sizeof(struct vmm_ops_1_9), NULL /* probe: optional */, create, send_control,
	  NULL /* vmm_pid */, NULL /* version */, destroy, NULL, NULL },
	nothing, nothing
};
static const struct descriptor_1_9 kDescriptor = {
	{ EZONE_PLUGIN_ABI_MAJOR, 9, sizeof(struct descriptor_1_9), EZONE_KIND_VMM,
	  "abi19-vmm", "1.9", "a VMM from a future minor", EZONE_CAP_WITNESS,
	  &kOps.base, NULL, NULL, 0 },
	"https://example.org"
};
#define DESCRIPTOR (&kDescriptor.base)
#else
static ezone_status save_snapshot(void *vm, const char *path, char *msg, size_t s)
{
	(void)vm; (void)path; (void)msg; (void)s;
	return EZONE_OK;
}
static const ezone_vmm_ops kOps = {
#if defined(ABI_MINOR_LIES)
	EZONE_VMM_OPS_SIZE_1_0,
#else
	sizeof(ezone_vmm_ops),
#endif
	NULL, create, send_control, NULL, NULL, destroy, NULL,
#if defined(ABI_CAP_WITHOUT_OP)
	NULL
#else
	save_snapshot
#endif
};
static const ezone_plugin_descriptor kDescriptor = {
	EZONE_PLUGIN_ABI_MAJOR,
#if defined(ABI_MINOR_LIES)
	2,
#else
	0,
#endif
#if defined(ABI_TOO_SMALL)
	offsetof(ezone_plugin_descriptor, kind),
#else
	sizeof(ezone_plugin_descriptor),
#endif
	EZONE_KIND_VMM, "abi-edge", "0", "an ABI edge case", EZONE_CAP_SNAPSHOT,
	&kOps, NULL, NULL, 0
};
#define DESCRIPTOR (&kDescriptor)
#endif

EXPORT const ezone_plugin_descriptor *ezone_plugin_entry(uint32_t core_abi_major)
{
	(void)core_abi_major;
	return DESCRIPTOR;
}
