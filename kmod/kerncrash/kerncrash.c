// SPDX-License-Identifier: GPL-2.0
/*
 * kerncrash - crash the guest kernel on a timer, for ezone's E-Zone 3 checks.
 *
 * The module of the paper: on load it arms a timer_list; when the timer
 * fires (in softirq context) the chosen fault happens for real:
 *
 *   divzero   (default) an integer division by a zero the compiler cannot
 *             see, i.e. a real idiv instruction -> "divide error: 0000"
 *   nullderef a write through a NULL pointer -> page fault oops
 *   panic     panic("kerncrash: ...")
 *   bug       BUG() -> "kernel BUG at ..." (invalid opcode) oops
 *   hang      spin forever with interrupts off
 *   warn      WARN_ON(1) -> a kernel WARNING, which is *not* a crash
 *
 * Parameters: mode=<name>, delay_ms=<milliseconds before the fault>.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/processor.h>
#include <linux/string.h>
#include <linux/timer.h>

enum kerncrash_mode {
	KC_DIVZERO,
	KC_NULLDEREF,
	KC_PANIC,
	KC_BUG,
	KC_HANG,
	KC_WARN,
};

static const char * const kerncrash_mode_names[] = {
	[KC_DIVZERO] = "divzero",
	[KC_NULLDEREF] = "nullderef",
	[KC_PANIC] = "panic",
	[KC_BUG] = "bug",
	[KC_HANG] = "hang",
	[KC_WARN] = "warn",
};

static char *mode = "divzero";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "fault to cause: divzero (default), nullderef, panic, bug, hang, warn");

static unsigned int delay_ms = 1000;
module_param(delay_ms, uint, 0444);
MODULE_PARM_DESC(delay_ms, "milliseconds between load and fault (default 1000)");

/* Read through READ_ONCE() so that the compiler cannot fold the zero. */
static int kerncrash_divisor;
static int kerncrash_dividend = 42;
static int *kerncrash_null;

static enum kerncrash_mode kerncrash_mode;
static struct timer_list kerncrash_timer;

static noinline int kerncrash_divide(void)
{
	int a = READ_ONCE(kerncrash_dividend);
	int b = READ_ONCE(kerncrash_divisor);

	return a / b;
}

static void kerncrash_fire(struct timer_list *t)
{
	pr_emerg("firing mode=%s\n", kerncrash_mode_names[kerncrash_mode]);

	switch (kerncrash_mode) {
	case KC_DIVZERO:
		pr_info("result %d\n", kerncrash_divide());
		break;
	case KC_NULLDEREF:
		WRITE_ONCE(*READ_ONCE(kerncrash_null), 1);
		break;
	case KC_PANIC:
		panic("kerncrash: requested panic");
		break;
	case KC_BUG:
		BUG();
		break;
	case KC_HANG:
		local_irq_disable();
		for (;;)
			cpu_relax();
		break;
	case KC_WARN:
		WARN_ON(1);
		break;
	}
	pr_emerg("still alive after mode=%s\n",
		 kerncrash_mode_names[kerncrash_mode]);
}

static int __init kerncrash_init(void)
{
	int i;

	i = match_string(kerncrash_mode_names,
			 ARRAY_SIZE(kerncrash_mode_names), mode);
	if (i < 0) {
		pr_err("unknown mode '%s'\n", mode);
		return -EINVAL;
	}
	kerncrash_mode = i;

	timer_setup(&kerncrash_timer, kerncrash_fire, 0);
	mod_timer(&kerncrash_timer, jiffies + msecs_to_jiffies(delay_ms));
	pr_info("armed mode=%s delay_ms=%u\n", mode, delay_ms);
	return 0;
}

static void __exit kerncrash_exit(void)
{
	del_timer_sync(&kerncrash_timer);
}

module_init(kerncrash_init);
module_exit(kerncrash_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("ezone");
MODULE_DESCRIPTION("Crash the kernel on a timer (divide by zero and friends) for fault-isolation checks");
