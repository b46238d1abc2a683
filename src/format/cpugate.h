/*
 * cpugate.h - at most N threads at a time doing CPU work (compression,
 * encryption, hashing) among more threads that mostly wait on storage.
 *
 * Against storage across a network a transfer spends most of its time
 * waiting for answers, so a command keeps more transfers in flight than it
 * has CPUs (the `transfers` setting, pool.h).  Their CPU work still runs
 * `parallel` at a time: a worker holds a slot while it encodes or decodes
 * and lets it go before it waits on the network.  Each slot keeps the
 * encoder memory (format.h's scratch: a zstd context and frame buffers)
 * the holder borrows, so memory for encoding grows with the slots, not
 * with the transfers.
 */
#ifndef TR_CPUGATE_H
#define TR_CPUGATE_H

#include "format/format.h"

typedef struct tr_cpugate tr_cpugate;
typedef struct tr_cpuslot tr_cpuslot;

/* A gate of n slots; NULL when out of memory. */
tr_cpugate *tr_cpugate_new(int n);
/* After every slot was given back: frees the slots and wipes their scratch. */
void tr_cpugate_free(tr_cpugate *g);
/* Waits for a free slot and takes it. */
tr_cpuslot *tr_cpugate_enter(tr_cpugate *g);
void tr_cpugate_leave(tr_cpugate *g, tr_cpuslot *s);
/* The slot's encoder scratch, made on first use; NULL when out of memory. */
tr_enc_scratch *tr_cpuslot_scratch(tr_cpuslot *s);
int tr_cpugate_slots(const tr_cpugate *g);
/* How many slots were ever held at the same time (for tests). */
int tr_cpugate_peak(tr_cpugate *g);

#endif
