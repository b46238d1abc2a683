/* progress.h - progress of a long transfer: a self-rewriting line on a
 * terminal, a log line every few seconds otherwise. */
#ifndef TR_PROGRESS_H
#define TR_PROGRESS_H
#include <stdint.h>

typedef struct tr_progress {
	const char *what;
	uint64_t total, done;
	double start, last;
	int tty;
} tr_progress;

void tr_progress_init(tr_progress *p, const char *what, uint64_t total);
void tr_progress_add(tr_progress *p, uint64_t bytes);
void tr_progress_end(tr_progress *p);

#endif
