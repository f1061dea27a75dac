/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The debugfs `control` command language (control.c), as seen by the
 * debugfs files (debugfs.c) and by tests that drive it without a shell.
 * Documentation/debugfs.rst describes the commands.
 */
#ifndef _DSLAB_CONTROL_H
#define _DSLAB_CONTROL_H

#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/types.h>

/* Longest command accepted by one write, newline included. */
#define DSLAB_CTL_LINE_MAX	256

int dslab_ctl_exec(const char *line, size_t len);
void dslab_ctl_last(char *buf, size_t size);

ssize_t dslab_ctl_write(struct file *file, const char __user *ubuf,
			size_t count, loff_t *ppos);
int dslab_ctl_show_last(struct seq_file *m);
int dslab_ctl_show_handles(struct seq_file *m);
void dslab_ctl_show_stats(struct seq_file *m);

/* Free every object still held through a handle; may sleep. */
void dslab_ctl_exit(void);

#endif /* _DSLAB_CONTROL_H */
