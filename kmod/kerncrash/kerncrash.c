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
 *   memcorrupt a stray write corrupts a list_head, then list_del() on it;
 *             CONFIG_DEBUG_LIST + CONFIG_BUG_ON_DATA_CORRUPTION report
 *             "list_del corruption" and BUG()
 *
 * Two modes must run in process context, so the timer hands them to a
 * work item (a kworker):
 *
 *   softlockup   spin with preemption disabled (interrupts on) for
 *                duration_ms -> the soft-lockup watchdog's
 *                "BUG: soft lockup - CPU#N stuck for Ns!"
 *   stackoverflow unbounded recursion -> the vmap stack's guard page
 *                "BUG: TASK stack guard page was hit"
 *
 * Parameters: mode=<name>, delay_ms=<milliseconds before the fault>,
 * duration_ms=<milliseconds of spinning for softlockup>.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/processor.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

enum kerncrash_mode {
	KC_DIVZERO,
	KC_NULLDEREF,
	KC_PANIC,
	KC_BUG,
	KC_HANG,
	KC_WARN,
	KC_SOFTLOCKUP,
	KC_STACKOVERFLOW,
	KC_MEMCORRUPT,
};

static const char * const kerncrash_mode_names[] = {
	[KC_DIVZERO] = "divzero",
	[KC_NULLDEREF] = "nullderef",
	[KC_PANIC] = "panic",
	[KC_BUG] = "bug",
	[KC_HANG] = "hang",
	[KC_WARN] = "warn",
	[KC_SOFTLOCKUP] = "softlockup",
	[KC_STACKOVERFLOW] = "stackoverflow",
	[KC_MEMCORRUPT] = "memcorrupt",
};

static char *mode = "divzero";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "fault to cause: divzero (default), nullderef, panic, bug, hang, warn, softlockup, stackoverflow, memcorrupt");

static unsigned int delay_ms = 1000;
module_param(delay_ms, uint, 0444);
MODULE_PARM_DESC(delay_ms, "milliseconds between load and fault (default 1000)");

static unsigned int duration_ms = 30000;
module_param(duration_ms, uint, 0444);
MODULE_PARM_DESC(duration_ms, "softlockup: milliseconds to spin with preemption off (default 30000)");

/* Read through READ_ONCE() so that the compiler cannot fold the zero. */
static int kerncrash_divisor;
static int kerncrash_dividend = 42;
static int *kerncrash_null;

/* Recursion ends only at this depth, which is never reached. */
static unsigned int kerncrash_max_depth = UINT_MAX;

/* memcorrupt: a small list whose middle node gets a stray pointer. */
struct kerncrash_node {
	struct list_head link;
	unsigned long payload;
};
static LIST_HEAD(kerncrash_list);
static struct kerncrash_node kerncrash_nodes[3];

static enum kerncrash_mode kerncrash_mode;
static struct timer_list kerncrash_timer;
static struct work_struct kerncrash_work;

static noinline int kerncrash_divide(void)
{
	int a = READ_ONCE(kerncrash_dividend);
	int b = READ_ONCE(kerncrash_divisor);

	return a / b;
}

/*
 * Not a tail call: the result is combined with a local array that lives
 * on this frame, so each level keeps its own ~256-byte frame.
 */
static noinline unsigned long kerncrash_recurse(unsigned int depth)
{
	volatile unsigned long frame[32];

	frame[depth % 32] = depth;
	if (depth == READ_ONCE(kerncrash_max_depth))
		return frame[0];
	return kerncrash_recurse(depth + 1) + frame[depth % 32];
}

static void kerncrash_softlockup(void)
{
	unsigned long end = jiffies + msecs_to_jiffies(duration_ms);

	preempt_disable();
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
}

static void kerncrash_memcorrupt(void)
{
	struct kerncrash_node *victim = &kerncrash_nodes[1];
	int i;

	for (i = 0; i < ARRAY_SIZE(kerncrash_nodes); i++)
		list_add_tail(&kerncrash_nodes[i].link, &kerncrash_list);
	/*
	 * The stray write (as a buffer overrun or a use after free would do):
	 * the victim's next pointer now names the wrong node.
	 */
	WRITE_ONCE(victim->link.next, &kerncrash_nodes[0].link);
	list_del(&victim->link);
}

static void kerncrash_work_fn(struct work_struct *work)
{
	pr_emerg("firing mode=%s\n", kerncrash_mode_names[kerncrash_mode]);

	switch (kerncrash_mode) {
	case KC_SOFTLOCKUP:
		kerncrash_softlockup();
		break;
	case KC_STACKOVERFLOW:
		pr_info("depth %lu\n", kerncrash_recurse(0));
		break;
	default:
		break;
	}
	pr_emerg("still alive after mode=%s\n",
		 kerncrash_mode_names[kerncrash_mode]);
}

static void kerncrash_fire(struct timer_list *t)
{
	if (kerncrash_mode == KC_SOFTLOCKUP ||
	    kerncrash_mode == KC_STACKOVERFLOW) {
		schedule_work(&kerncrash_work);
		return;
	}

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
	case KC_MEMCORRUPT:
		kerncrash_memcorrupt();
		break;
	default:
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

	INIT_WORK(&kerncrash_work, kerncrash_work_fn);
	timer_setup(&kerncrash_timer, kerncrash_fire, 0);
	mod_timer(&kerncrash_timer, jiffies + msecs_to_jiffies(delay_ms));
	if (kerncrash_mode == KC_SOFTLOCKUP)
		pr_info("armed mode=%s delay_ms=%u duration_ms=%u\n", mode,
			delay_ms, duration_ms);
	else
		pr_info("armed mode=%s delay_ms=%u\n", mode, delay_ms);
	return 0;
}

static void __exit kerncrash_exit(void)
{
	del_timer_sync(&kerncrash_timer);
	cancel_work_sync(&kerncrash_work);
}

module_init(kerncrash_init);
module_exit(kerncrash_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("ezone");
MODULE_DESCRIPTION("Crash the kernel on a timer (divide by zero and friends) for fault-isolation checks");
