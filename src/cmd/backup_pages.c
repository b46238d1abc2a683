/* backup_pages.c - page checksum verdicts of a backup (see backup_pages.h). */
#include "config.h"
#include "cmd/backup_pages.h"
#include "base/log.h"
#include "base/metric.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tr_pagecheck *tr_backup_pages_start(const tr_pg_info *info, tr_manifest_hdr *h)
{
	if (!info->data_checksums) {
		snprintf(h->page_checksums, sizeof h->page_checksums, "off");
		return NULL;
	}
	if (info->block_size != TR_PAGE_SIZE || info->relseg_blocks == 0 || info->relseg_blocks > UINT32_MAX) {
		tr_warn("backup %s: block_size is %d: page checksums are verified only for 8 KiB blocks", h->label,
			info->block_size);
		snprintf(h->page_checksums, sizeof h->page_checksums, "unchecked");
		return NULL;
	}
	tr_pagecheck *pc = tr_pagecheck_new(h->start_lsn, (uint32_t)info->relseg_blocks);
	snprintf(h->page_checksums, sizeof h->page_checksums, pc ? "verified" : "unchecked");
	return pc;
}

/* "base/5/16384 block 1, base/5/16384 block 7, ..." from the list, in at
 * most len bytes. */
static void summarise(const char *list, uint64_t count, char *out, size_t len)
{
	size_t used = 0;
	uint64_t shown = 0;
	out[0] = '\0';
	for (const char *p = list; *p && used + 64 < len;) {
		size_t n = strcspn(p, "\n");
		const char *sp = memchr(p, ' ', n);
		if (sp)
			used += (size_t)snprintf(out + used, len - used, "%s%.*s block %.*s", shown ? ", " : "",
						 (int)(sp - p), p, (int)(n - (size_t)(sp - p) - 1), sp + 1);
		shown++;
		p += n + (p[n] ? 1 : 0);
	}
	if (shown < count && used + 16 < len)
		snprintf(out + used, len - used, ", and %" PRIu64 " more", count - shown);
}

int tr_backup_pages_finish(tr_pagecheck *pc, tr_manifest_hdr *h, char *note, size_t notelen)
{
	char where[400], text[512];
	note[0] = '\0';
	if (!pc)
		return 0;
	free(h->damaged_list);
	if (!(h->damaged_list = tr_pagecheck_list(pc)))
		return -1;
	h->damaged_pages = tr_pagecheck_damaged(pc);
	if (!h->damaged_pages) {
		snprintf(note, notelen, ", page checksums verified (%" PRIu64 " pages)", tr_pagecheck_verified(pc));
		return 0;
	}
	summarise(h->damaged_list, h->damaged_pages, where, sizeof where);
	snprintf(text, sizeof text, "%" PRIu64 " page%s with a bad checksum: %s", h->damaged_pages,
		 h->damaged_pages == 1 ? "" : "s", where);
	snprintf(note, notelen, ", %s", text);
	tr_warn("backup %s: %s (damaged on disk: the backup holds them as read; see list --json)", h->label, text);
	tr_metric_extra("page-checksum", 0, 0, "warning", text);
	return 0;
}
