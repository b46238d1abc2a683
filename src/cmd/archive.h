/* archive.h - archiving one WAL file, shared by archive-put and its
 * look-ahead (archive_ahead.c). */
#ifndef TR_ARCHIVE_H
#define TR_ARCHIVE_H

#include "repo/repo.h"
#include "repo/section.h"

/* archive-put's settings, read at its entry. */
typedef struct tr_archive_settings {
	int parallel;   /* threads compressing the file PostgreSQL asked for; CPU slots of the files ahead */
	int ahead;      /* other ready files uploaded meanwhile (0: none; -1: by driver, tr_ahead_count) */
} tr_archive_settings;

/* Stores the WAL file at path (named name) put-if-absent, in history
 * section sec (section.h), whose cluster a file with a page header must
 * be.  0 when stored or when the same content already is; 1 otherwise,
 * with the reason logged (at warning level when quiet, for look-ahead
 * files). */
int tr_archive_file(tr_repo *r, const tr_archive_settings *as, const char *path, const char *name, int quiet,
		    const tr_section *sec, tr_xfer *x);

/*
 * Look-ahead: while PostgreSQL waits for archive-put of one file, up to
 * archive-ahead other .ready files of pg_wal are uploaded in parallel.
 * Each one durably stored gets a marker in <state-dir>/ahead/<repo>/ that
 * records the file's device, inode, size and modification time; when
 * PostgreSQL then asks for that file, archive-put finds a marker matching
 * the file and returns at once.  A file is reported archived only after it
 * is durably stored; a lost marker only costs an upload (which then finds
 * the identical object).
 */
/* Files uploaded ahead: the archive-ahead setting (as->ahead >= 0), else
 * TR_AHEAD_REMOTE on a driver with TR_CAP_REMOTE and TR_AHEAD_LOCAL on a
 * local disk.  Measured in bursts of 200 real segments on 2 CPUs
 * (tests/bench/README.md): on fs 16 ahead gives 1.2 x the rate of one at a
 * time, since the files ahead keep both CPUs busy between PostgreSQL's
 * calls; on s3 with 25 ms latency 8 ahead gives 3.3 x, and fewer cost
 * 10-15 % of that while each file ahead adds memory (archive-put's 32 MiB
 * budget). */
#define TR_AHEAD_REMOTE 8
#define TR_AHEAD_LOCAL 16
int tr_ahead_count(tr_repo *r, const tr_archive_settings *as);
/* 1 if path was archived ahead (marker removed, *x filled), 0 if not. */
int tr_ahead_claim(tr_repo *r, const tr_archive_settings *as, const char *path, const char *name, tr_xfer *x);
/* Starts uploading other ready files; returns a handle to wait on, or NULL
 * when there is nothing to do.  With a handle, r uses a CPU gate
 * (format/cpugate.h, tr_repo_use_cpugate) the call's own file holds until
 * it is compressed, and the look-ahead files take in turn;
 * tr_ahead_finish() lets it go first if still held, then waits for them,
 * and takes the gate from r again. */
struct tr_ahead;
struct tr_ahead *tr_ahead_start(tr_repo *r, const tr_archive_settings *as, const char *path, const char *name,
				const tr_section *sec);
void tr_ahead_finish(struct tr_ahead *a);

/* archive-put, after it stored the WAL file `name` read from `path`:
 * warns, and records a "timeline-divergence" metric, when a segment lands
 * at or after the fork of a child timeline, or when a new timeline's
 * parent is already archived past its fork.  Never fails archive-put
 * (timeline_watch.c). */
void tr_timeline_watch(tr_repo *r, const char *path, const char *name);

#endif
