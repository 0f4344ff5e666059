/* shm_sync.h — the waiting primitives that same-host shared-memory code shares: futex waits
 * and wakes on a 32-bit word (shared between processes, or private to one), and the checks that
 * a process sharing a segment is gone (exited, or a zombie not yet reaped) or stopped. */
#ifndef TACL_TRANSPORT_SHM_SYNC_H
#define TACL_TRANSPORT_SHM_SYNC_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleeps while *word == expected, at most ns nanoseconds (a wake, a changed word or a signal
 * end it earlier; callers re-check their condition). private_: the word is not shared between
 * processes. */
void tacl__shm_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t ns, int private_);
/* Wakes every sleeper on word. */
void tacl__shm_futex_wake(_Atomic uint32_t *word, int private_);
/* 1 when pid no longer runs: it does not exist, or it is a zombie (killed, not yet reaped). */
int tacl__shm_pid_dead(int32_t pid);
/* 1 when pid is stopped (SIGSTOP, SIGTSTP, or a tracer): alive but making no progress. Unlike
 * silence, this is evidence that a loaded CPU cannot fake. */
int tacl__shm_pid_stopped(int32_t pid);

#endif
