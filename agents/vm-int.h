/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vm-int.h: internals of the vm agent (agents/agents-vm*.c), shared with
 * its unit test. The agent runs one QEMU per VM, detached from the agent
 * (and from clusterd) so that it survives both, and talks to it over QMP.
 */
#pragma once

#include <sys/types.h>

#include "common/common.h"

#define VM_NAME_MAX 63
#define VM_DISKS_MAX 16
#define VM_NICS_MAX 8
#define VM_APPEND_MAX 4096
#define VM_MEMORY_MIN_MIB 16
#define VM_MEMORY_MAX_MIB (UINT64_C(4) * 1024 * 1024) /* 4 TiB */
#define VM_VCPUS_MAX 255
/* shutdown_timeout not set: stop waits two thirds of its own timeout. */
#define VM_SHUTDOWN_TIMEOUT_DEFAULT UINT64_MAX

enum vm_accel {
        VM_ACCEL_AUTO, /* KVM when /dev/kvm works, else TCG */
        VM_ACCEL_KVM,
        VM_ACCEL_TCG,
};

struct vm_disk {
        char *path;         /* owned; absolute */
        const char *format; /* static: "raw" or "qcow2" */
        const char *iface;  /* static: "virtio" or "ide" */
};

struct vm_nic {
        char bridge[16];   /* the host bridge (an interface name) */
        char mac[18];      /* "52:54:00:xx:xx:xx" */
        const char *model; /* static: a QEMU network device */
};

/* A VM's parameters, validated. */
struct vm_config {
        char *name;          /* owned; [A-Za-z0-9_.-]{1,63} */
        uint64_t memory_mib; /* guest RAM in MiB */
        unsigned vcpus;      /* 1..VM_VCPUS_MAX */
        char *machine;       /* owned; QEMU machine type */
        enum vm_accel accel; /* what "accel" asked for */
        struct vm_disk disks[VM_DISKS_MAX];
        size_t n_disks;
        struct vm_nic nics[VM_NICS_MAX];
        size_t n_nics;
        char *kernel;                   /* owned, or NULL: direct kernel boot */
        char *initrd;                   /* owned, or NULL */
        char *append;                   /* owned, or NULL: the kernel command line */
        char *serial;                   /* owned, or NULL: file for the first serial port */
        char *run_dir;                  /* owned; where the pid file and the QMP socket live */
        uint64_t shutdown_timeout_usec; /* ACPI shutdown wait in stop; 0: no ACPI request;
                                           VM_SHUTDOWN_TIMEOUT_DEFAULT: a share of stop's timeout */
        char *pid_path;                 /* owned; RUN_DIR/NAME.pid, written by QEMU */
        char *qmp_path;                 /* owned; RUN_DIR/NAME.qmp, QEMU's QMP socket */
};

/* One agent parameter, for parsing and for the meta-data. */
struct vm_param {
        const char *name;
        bool required;
        const char *default_value; /* NULL: none (or computed; longdesc says) */
        const char *shortdesc;
        const char *longdesc;
};

/* The parameters, ending with an entry whose name is NULL. */
extern const struct vm_param vm_params[];

/* Reads the OCF_RESKEY_* entries of env (an environ-style array) into
 * *ret, checking every value. Unknown parameters are refused, as is
 * "extra": there is no way to pass arbitrary arguments to QEMU. Returns
 * -EINVAL with a message naming the parameter and its value. The caller
 * owns *ret (vm_config_done()). Nothing on the host is looked at. */
int vm_config_parse(char *const *env, struct vm_config *ret, struct err *e);

/* Reads only what identifies a running VM (name and run_dir, and
 * shutdown_timeout when it is valid), ignoring everything else, so that
 * stop and monitor work even when other parameters are invalid. */
int vm_config_parse_identity(char *const *env, struct vm_config *ret, struct err *e);

/* Frees what c owns and clears it; accepts a cleared c. */
void vm_config_done(struct vm_config *c);

/* Checks what c needs on this host: the QEMU binary, the disk, kernel and
 * initrd files, the bridges and QEMU's bridge helper. -ENOENT (or the
 * access(2) error) with a message naming the missing thing. */
int vm_config_check_host(const struct vm_config *c, const char *qemu, struct err *e);

/* The QEMU command line for c: argv[0] is qemu. The caller owns it. */
char **vm_qemu_argv(const struct vm_config *c, const char *qemu, bool kvm);

/* Whether /dev/kvm can be opened read-write and creates a VM. */
bool vm_kvm_usable(void);

/* Finds c's QEMU: the pid in its pid file, or failing that a process whose
 * command line has c's -name and -qmp socket (a pid file can be lost).
 * Either way the process must be alive and its command line must contain
 * "-name NAME". Returns 1 with *ret_pid and *ret_pidfd (owned by the
 * caller; it refers to that process even if the pid is reused later), 0
 * when none runs, -errno on failure. */
int vm_find(const struct vm_config *c, pid_t *ret_pid, int *ret_pidfd, struct err *e);

/* Whether the process behind pidfd has exited; waits until deadline_usec
 * (monotonic) at most. 1 when it exited, 0 when still alive. */
int vm_wait_exit(int pidfd, uint64_t deadline_usec);

/* Runs QEMU with argv, which daemonizes. Returns once QEMU's first process
 * exits (the daemon lives on), 0 when it reported success. Otherwise
 * -EIO (or -ETIMEDOUT at the deadline) with QEMU's own error output, up to
 * a few KiB, in the message. */
int vm_spawn(char *const *argv, uint64_t deadline_usec, struct err *e);
