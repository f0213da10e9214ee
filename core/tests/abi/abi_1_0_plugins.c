/*
 * Plugins built against the frozen ABI 1.0 header (plugin_abi_1_0.h), as a
 * third party built them then: they must load and run in today's core.
 *
 *  -DABI10_VMM:   "abi10-vmm", a fake VMM with 1.0's six ops. Its "VM" is a
 *                 thread that plays the agent: READY with the nonce of the
 *                 command line, heartbeats, replies to ping / exit (exit: the
 *                 VMM reports its own exit, a sign a check can watch).
 *  -DABI10_FAULT: "abi10-fault", whose variant "exit" asks the agent to
 *                 exit, through 1.0's three-field fault target.
 *
 * Plain C, no SDK: only what the 1.0 header offered.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_abi_1_0.h"

#if EZONE_PLUGIN_ABI_MINOR != 0
#error "must be built against the frozen 1.0 header"
#endif

#define EXPORT __attribute__((visibility("default")))

static void copy_msg(char *out, size_t size, const char *text)
{
	if (out != NULL && size > 0)
		snprintf(out, size, "%s", text);
}

#if defined(ABI10_VMM)

struct vm {
	ezone_vm_sink sink;
	char nonce[64];
	char line[256];
	size_t line_len;
	pthread_t thread;
	pthread_mutex_t mu;
	int stop;
	int exited;
};

static void control(struct vm *vm, const char *text)
{
	vm->sink.control(vm->sink.core, text, strlen(text));
}

static void *agent_thread(void *arg)
{
	struct vm *vm = arg;
	char text[128];
	const struct timespec beat = { 0, 50 * 1000 * 1000 };
	unsigned long seq = 0;

	snprintf(text, sizeof text, "READY %s abi-1.0-fake\n", vm->nonce);
	vm->sink.console(vm->sink.core, "abi10: booted\n", 14);
	control(vm, text);
	for (;;) {
		pthread_mutex_lock(&vm->mu);
		int stop = vm->stop || vm->exited;
		pthread_mutex_unlock(&vm->mu);
		if (stop)
			break;
		seq++;
		snprintf(text, sizeof text, "HB %lu %lu\n", seq, seq * 50);
		control(vm, text);
		nanosleep(&beat, NULL);
	}
	return NULL;
}

static ezone_status probe(const char *options, char *msg, size_t msg_size)
{
	(void)options;
	copy_msg(msg, msg_size, "");
	return EZONE_OK;
}

static ezone_status create(const ezone_guest_spec *spec, const ezone_vm_sink *sink,
			   void **out, char *msg, size_t msg_size)
{
	/* A 1.0 spec: the fields up to options. */
	const char *n = spec->cmdline ? strstr(spec->cmdline, "ezone.nonce=") : NULL;
	struct vm *vm;

	if (spec->struct_size < sizeof(ezone_guest_spec) || n == NULL) {
		copy_msg(msg, msg_size, "abi10: no 1.0 guest spec or no nonce");
		return EZONE_FAILED;
	}
	vm = calloc(1, sizeof *vm);
	vm->sink = *sink;
	n += strlen("ezone.nonce=");
	snprintf(vm->nonce, sizeof vm->nonce, "%.*s", (int)strcspn(n, " "), n);
	pthread_mutex_init(&vm->mu, NULL);
	pthread_create(&vm->thread, NULL, agent_thread, vm);
	*out = vm;
	copy_msg(msg, msg_size, "");
	return EZONE_OK;
}

static void command(struct vm *vm, const char *line)
{
	char id[32], cmd[128], reply[256];

	if (sscanf(line, "%31s %127s", id, cmd) != 2)
		return;
	if (strcmp(cmd, "ping") == 0) {
		snprintf(reply, sizeof reply, "OK %s pong\n", id);
		control(vm, reply);
	} else if (strcmp(cmd, "exit") == 0) {
		snprintf(reply, sizeof reply, "OK %s bye\n", id);
		control(vm, reply);
		pthread_mutex_lock(&vm->mu);
		vm->exited = 1;
		pthread_mutex_unlock(&vm->mu);
		vm->sink.event(vm->sink.core, EZONE_EVENT_VMM_EXITED, "exit status 0");
	} else {
		snprintf(reply, sizeof reply, "ERR %s unknown command\n", id);
		control(vm, reply);
	}
}

static ezone_status send_control(void *handle, const char *bytes, size_t size,
				 char *msg, size_t msg_size)
{
	struct vm *vm = handle;
	size_t i;

	for (i = 0; i < size; i++) {
		if (bytes[i] == '\n') {
			vm->line[vm->line_len] = '\0';
			command(vm, vm->line);
			vm->line_len = 0;
		} else if (vm->line_len + 1 < sizeof vm->line) {
			vm->line[vm->line_len++] = bytes[i];
		}
	}
	copy_msg(msg, msg_size, "");
	return EZONE_OK;
}

static int64_t vmm_pid(void *vm)
{
	(void)vm;
	return -1;
}

static ezone_status version(void *vm, char *out, size_t out_size)
{
	(void)vm;
	copy_msg(out, out_size, "abi10 fake VMM 1.0");
	return EZONE_OK;
}

static void destroy(void *handle)
{
	struct vm *vm = handle;

	pthread_mutex_lock(&vm->mu);
	vm->stop = 1;
	pthread_mutex_unlock(&vm->mu);
	pthread_join(vm->thread, NULL);
	pthread_mutex_destroy(&vm->mu);
	free(vm);
}

static const ezone_vmm_ops kOps = {
	sizeof(ezone_vmm_ops), probe, create, send_control, vmm_pid, version, destroy
};

static const ezone_plugin_descriptor kDescriptor = {
	EZONE_PLUGIN_ABI_MAJOR, EZONE_PLUGIN_ABI_MINOR, sizeof(ezone_plugin_descriptor),
	EZONE_KIND_VMM, "abi10-vmm", "1.0", "a fake VMM built against ABI 1.0",
	EZONE_CAP_WITNESS, &kOps, NULL, NULL, 0
};

#elif defined(ABI10_FAULT)

static ezone_status fire(const char *variant, const char *options,
			 const ezone_fault_target *target, char *msg, size_t msg_size)
{
	char reply[256] = "";
	ezone_status status;

	(void)options;
	if (strcmp(variant, "exit") != 0) {
		copy_msg(msg, msg_size, "abi10-fault: unknown variant");
		return EZONE_FAILED;
	}
	/* Only 1.0's fields: agent_command, vmm_pid, vmm_name. */
	if (target->vmm_name == NULL || target->vmm_pid(target->core) < -1) {
		copy_msg(msg, msg_size, "abi10-fault: bad 1.0 target");
		return EZONE_FAILED;
	}
	status = target->agent_command(target->core, "exit", 5000, reply, sizeof reply);
	if (status != EZONE_OK) {
		copy_msg(msg, msg_size, reply);
		return EZONE_FAILED;
	}
	snprintf(msg, msg_size, "agent said %s on %s", reply, target->vmm_name);
	return EZONE_OK;
}

static const ezone_fault_ops kOps = { sizeof(ezone_fault_ops), fire };
static const ezone_fault_variant kVariants[] = {
	{ "exit", EZONE_ZONE_GUEST_KERNEL, EZONE_SIGN_VMM_EXIT,
	  "the fake agent ends its VM" },
};

static const ezone_plugin_descriptor kDescriptor = {
	EZONE_PLUGIN_ABI_MAJOR, EZONE_PLUGIN_ABI_MINOR, sizeof(ezone_plugin_descriptor),
	EZONE_KIND_FAULT, "abi10-fault", "1.0", "a fault built against ABI 1.0",
	0, NULL, &kOps, kVariants, 1
};

#else
#error "define ABI10_VMM or ABI10_FAULT"
#endif

EXPORT const ezone_plugin_descriptor *ezone_plugin_entry(uint32_t core_abi_major)
{
	return core_abi_major == EZONE_PLUGIN_ABI_MAJOR ? &kDescriptor : NULL;
}
