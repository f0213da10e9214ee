/* Deliberately broken plugins for the loader's error-path tests. Each is
 * built from this file with one BAD_* macro defined. */
#include <stddef.h>

#include "ezone/plugin_abi.h"

#define EXPORT __attribute__((visibility("default")))

#if defined(BAD_NO_ENTRY)
EXPORT int not_an_entry_point(void) { return 0; }
#else

static ezone_status Fire(const char *variant, const char *options,
                         const ezone_fault_target *target, char *msg,
                         size_t msg_size)
{
	(void)variant; (void)options; (void)target; (void)msg; (void)msg_size;
	return EZONE_OK;
}

static const ezone_fault_ops kOps = { sizeof(ezone_fault_ops), Fire };
static const ezone_fault_variant kVariants[] = {
	{ "one", EZONE_ZONE_GUEST_KERNEL, EZONE_SIGN_GUEST_KERNEL_CRASH, "x" },
};

static const ezone_plugin_descriptor kDescriptor = {
#if defined(BAD_ABI_MAJOR)
	EZONE_PLUGIN_ABI_MAJOR + 41,
#else
	EZONE_PLUGIN_ABI_MAJOR,
#endif
	0, sizeof(ezone_plugin_descriptor), EZONE_KIND_FAULT, "badfault", "1.0",
	"broken on purpose", 0, NULL, &kOps,
#if defined(BAD_NO_VARIANTS)
	NULL, 0
#else
	kVariants, 1
#endif
};

EXPORT const ezone_plugin_descriptor *ezone_plugin_entry(uint32_t core_abi_major)
{
#if defined(BAD_RETURNS_NULL)
	(void)core_abi_major;
	return NULL;
#else
	(void)core_abi_major;
	return &kDescriptor;
#endif
}
#endif
