/* fuzz_schedule.c - libFuzzer target for the schedule parser.
 *
 * Built and run by tests/fuzz/run.sh.  A schedule that parses must give
 * next firing times strictly after the time asked about, and (for cron
 * expressions) asking again just before a firing time must give that same
 * time.
 */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int64_t times[] = { 0, 951782400 /* 2000-02-29 */, 1798761599 /* 2026-12-31 23:59:59 */,
				 4102444800 /* 2100-01-01 */ };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[256], why[256];
	tr_schedule s;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (tr_schedule_parse(text, &s, err, sizeof err) == 0) {
		for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
			int64_t next = tr_schedule_next(&s, times[i]);
			if (next != -1 && next <= times[i]) {
				fprintf(stderr, "next(%lld) = %lld is not after it\n", (long long)times[i], (long long)next);
				abort();
			}
			if (!s.is_interval && next > 0 && tr_schedule_next(&s, next - 1) != next) {
				fprintf(stderr, "next(%lld - 1) differs\n", (long long)next);
				abort();
			}
			(void)tr_schedule_due(&s, times[i], times[i] + 86400 * 8, why, sizeof why);
		}
	}
	free(text);
	return 0;
}
