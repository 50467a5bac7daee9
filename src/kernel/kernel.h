/*
 * src/kernel/kernel.h - the Linux replay backend.
 *
 * kr_backend_new() returns an sc_backend (src/scenario/backend.h) whose
 * statements run on the real kernel: every `host` is a fresh network
 * namespace, every `proc` a real forked process inside it with the declared
 * uid and capabilities, every call a real system call made by that
 * process.  `ls` reads the kernel's own tables through NETLINK_SOCK_DIAG.
 * docs/conformance.md describes how the replay works, the settle rule that
 * stands in for the model's "run the network until idle", and what it needs.
 *
 * The backend needs either root (it then works in the machine's user
 * namespace and names its namespaces under /run/netns), or unprivileged
 * user and network namespaces (it then moves the calling process, for
 * good, into a user namespace of its own where it is root; only uid 0
 * exists there, so a scenario with other uids cannot be replayed and its
 * `proc` statement fails with a message saying so).  Where neither is
 * possible, or the program was built without libmnl, kr_backend_new
 * returns NULL with *skip = 1 and the reason in msg: the caller must report
 * a skip, never a pass.  Any other failure returns NULL with *skip = 0.
 *
 * While a backend exists, SIGINT, SIGTERM and SIGHUP (when their action is
 * the default) are caught to remove the namespaces and kill the processes
 * before the signal takes its normal course, and a small guardian process
 * does the same if the caller dies any other way, SIGKILL included.
 */
#ifndef SOCKTAB_KERNEL_KERNEL_H
#define SOCKTAB_KERNEL_KERNEL_H

#include <stddef.h>

#include "scenario/backend.h"

sc_backend *kr_backend_new(const sc_backend_config *cfg, char *msg, size_t msglen, int *skip);

#endif
