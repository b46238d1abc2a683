/*
 * list.c - `totalrecall list` (alias `info`): the backups in the
 * repository and the archived WAL range, as a table or as JSON.  Each
 * history section (section.h) has its own WAL and timelines; each backup
 * is shown with its section.  A backup whose info or manifest is damaged
 * is named (and listed from its manifest when only the info is): it never
 * hides the others.
 */
#include "config.h"
#include "repo/backupset.h"
#include "cmd/commands.h"
#include "conf/resolve.h"
#include "base/log.h"
#include "pg/pagecheck.h"
#include "pg/pgconn.h"
#include "repo/section.h"
#include "repo/timeline.h"
#include "base/util.h"
#include "pg/walname.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct wal_range {
	char first[64], last[64];
	uint64_t count, bytes;
	tr_timelines tl;       /* timelines and divergence (timeline.h) */
	tr_tl_state *st;
	int nst, tips;
};

static int wal_range_add(void *ctx, const tr_object_info *info)
{
	struct wal_range *w = ctx;
	const char *name = tr_basename(info->key);
	if (tr_timeline_note(&w->tl, name) != 0)
		return 1;
	if (tr_wal_kind(name) != TR_WAL_SEGMENT)
		return 0;
	if (!w->first[0] || strcmp(name, w->first) < 0)
		snprintf(w->first, sizeof w->first, "%s", name);
	if (strcmp(name, w->last) > 0)
		snprintf(w->last, sizeof w->last, "%s", name);
	w->count++;
	w->bytes += (uint64_t)info->size;
	return 0;
}

/* A JSON string of s, escaped. */
static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* Page checksums, damaged pages by file and block, and whether the backup
 * was taken on a standby (pagecheck.h, README: Replicas). */
static void print_json_pages(const tr_manifest_hdr *b)
{
	char path[4096];
	unsigned long block;
	int first = 1;
	printf(",\"from_standby\":%s,\"page_checksums\":", b->from_standby ? "true" : "false");
	if (*b->page_checksums)
		json_str(b->page_checksums);
	else
		printf("null");
	printf(",\"damaged_pages\":%" PRIu64 ",\"damaged_page_list\":[", b->damaged_pages);
	for (const char *p = b->damaged_list; p && *p;) {  /* "<path> <block>" lines */
		if (sscanf(p, "%4095s %lu", path, &block) == 2) {
			printf("%s{\"file\":", first ? "" : ",");
			json_str(path);
			printf(",\"block\":%lu}", block);
			first = 0;
		}
		p += strcspn(p, "\n");
		p += *p == '\n';
	}
	printf("]");
}

/* Backups taken on a standby, and the damaged pages backups found. */
static void print_pages_table(const tr_backupset *set)
{
	for (int i = 0; i < set->n; i++) {
		const tr_manifest_hdr *b = &set->b[i];
		if (b->from_standby)
			printf("%s: taken on a standby\n", b->label);
		if (!b->damaged_pages)
			continue;
		printf("DAMAGED PAGES in %s: %" PRIu64 " page%s with a bad checksum:", b->label, b->damaged_pages,
		       b->damaged_pages == 1 ? "" : "s");
		for (const char *p = b->damaged_list; *p;) {
			size_t n = strcspn(p, "\n");
			printf(" %.*s%s", (int)n, p, p[n] ? "," : "");
			p += n + (p[n] ? 1 : 0);
		}
		printf("%s\n", b->damaged_pages > TR_PAGECHECK_LIST_MAX ? " ..." : "");
	}
}

/* Backups whose info or manifest could not be read (backupset.h). */
static void print_damage_json(const tr_backup_damages *d)
{
	printf(",\"damaged\":[");
	for (int i = 0; i < d->n; i++) {
		printf("%s{\"label\":", i ? "," : "");
		json_str(d->v[i].label);
		printf(",\"listed\":%s,\"reason\":", d->v[i].listed ? "true" : "false");
		json_str(d->v[i].reason);
		putchar('}');
	}
	putchar(']');
}

static void print_damage_table(const tr_backup_damages *d)
{
	for (int i = 0; i < d->n; i++)
		printf("damaged backup %s: %s%s\n", d->v[i].label, d->v[i].reason,
		       d->v[i].listed ? " (listed from its manifest)" : " (not restorable)");
}

/* "wal":{...},"timelines":[...],"diverged":x of one section. */
static void print_wal_json(const struct wal_range *w)
{
	printf("\"wal\":{\"first\":%s%s%s,\"last\":%s%s%s,\"segments\":%" PRIu64 ",\"stored_bytes\":%" PRIu64
	       "}", *w->first ? "\"" : "", *w->first ? w->first : "null", *w->first ? "\"" : "",
	       *w->last ? "\"" : "", *w->last ? w->last : "null", *w->last ? "\"" : "", w->count, w->bytes);
	printf(",\"timelines\":[");
	for (int i = 0; i < w->nst; i++) {
		char last[25], fork[24];
		tr_timeline_last_name(&w->st[i], last);
		tr_lsn_format(w->st[i].fork, fork);
		printf("%s{\"timeline\":%" PRIu32 ",\"parent\":", i ? "," : "", w->st[i].tli);
		if (w->st[i].parent)
			printf("%" PRIu32 ",\"fork_lsn\":\"%s\"", w->st[i].parent, fork);
		else
			printf("null,\"fork_lsn\":null");
		printf(",\"last_segment\":%s%s%s,\"tip\":%s}", w->st[i].has_segments ? "\"" : "",
		       w->st[i].has_segments ? last : "null", w->st[i].has_segments ? "\"" : "", w->st[i].tip ? "true" : "false");
	}
	printf("],\"diverged\":%s", w->tips > 1 ? "true" : "false");
}

/* The history sections, each with its WAL; then the current one's WAL at
 * the top level, as before sections existed. */
static void print_sections_json(const tr_sections *s, const struct wal_range *w)
{
	printf(",\"sections\":[");
	for (int k = 0; k < s->n; k++) {
		const tr_section *x = &s->v[k];
		printf("%s{\"section\":%" PRIu32 ",\"current\":%s,", k ? "," : "", x->n, k == s->n - 1 ? "true" : "false");
		if (x->id.sysid)
			printf("\"system_id\":\"%" PRIu64 "\",\"pg_version\":%d,\"damaged\":false,", x->id.sysid,
			       x->id.pg_major);
		else if (x->damaged)
			printf("\"system_id\":null,\"pg_version\":null,\"damaged\":true,");
		else   /* none recorded yet */
			printf("\"system_id\":null,\"pg_version\":null,\"damaged\":false,");
		print_wal_json(&w[k]);
		putchar('}');
	}
	printf("],");
	print_wal_json(&w[s->n - 1]);
}

static void print_json(const tr_backupset *set, const tr_backup_damages *d, const tr_sections *s,
		       const struct wal_range *w)
{
	printf("{\"backups\":[");
	for (int i = 0; i < set->n; i++) {
		const tr_manifest_hdr *b = &set->b[i];
		char start[24], stop[24], t0[32], t1[32];
		uint32_t sec = tr_section_of_backup(s, b);
		tr_lsn_format(b->start_lsn, start);
		tr_lsn_format(b->stop_lsn, stop);
		tr_backup_time_iso(b->start_time, t0);
		tr_backup_time_iso(b->stop_time, t1);
		printf("%s{\"label\":\"%s\",\"prior\":%s%s%s,\"start_time\":\"%s\",\"stop_time\":\"%s\","
		       "\"start_lsn\":\"%s\",\"stop_lsn\":\"%s\",\"timeline\":%" PRIu32 ",\"pg_version\":%d,"
		       "\"system_id\":\"%s\",\"logical_bytes\":%" PRIu64 ",\"stored_bytes\":%" PRIu64
		       ",\"new_bytes\":%" PRIu64 ",\"file_count\":%" PRIu64 ",\"duration\":%.3f,\"section\":",
		       i ? "," : "", b->label, *b->prior ? "\"" : "", *b->prior ? b->prior : "null", *b->prior ? "\"" : "",
		       t0, t1, start, stop, b->timeline, b->pg_version, b->system_id, b->logical_bytes, b->stored_bytes,
		       b->new_bytes, b->file_count, b->duration);
		if (sec)
			printf("%" PRIu32, sec);
		else
			printf("null");   /* its section cannot be read */
		print_json_pages(b);
		putchar('}');
	}
	printf("]");
	print_sections_json(s, w);
	print_damage_json(d);
	printf("}\n");
}

static void print_wal_table(const struct wal_range *w)
{
	if (w->count)
		printf("WAL archive: %s to %s, %" PRIu64 " segments, %.1f MiB stored\n", w->first, w->last, w->count,
		       (double)w->bytes / 1048576);
	else
		printf("WAL archive: empty\n");
	if (w->nst > 1) {
		char text[2048];
		tr_timeline_describe(w->st, w->nst, text, sizeof text);
		printf("timelines: %s\n", text);
	}
	if (w->tips > 1)
		printf("DIVERGED: the archive holds diverged timelines (a parent archived past a child's fork, or two "
		       "children of one point): restore refuses to choose and needs --target-timeline\n");
}

static void print_table(const tr_repo *r, const tr_backupset *set, const tr_backup_damages *d, const tr_sections *s,
			const struct wal_range *w)
{
	printf("repository %s: %d backup%s\n", tr_repo_base(r), set->n, set->n == 1 ? "" : "s");
	if (set->n)
		printf("%-17s %-20s %-20s %-12s %-12s %3s %3s %6s %10s %10s %10s %8s\n", "label", "start (UTC)",
		       "stop (UTC)", "start lsn", "stop lsn", "tli", "sec", "pg", "size MiB", "stored MiB", "new MiB",
		       "seconds");
	for (int i = 0; i < set->n; i++) {
		const tr_manifest_hdr *b = &set->b[i];
		char start[24], stop[24], t0[32], t1[32], sec[12] = "?";
		uint32_t n = tr_section_of_backup(s, b);
		if (n)
			snprintf(sec, sizeof sec, "%" PRIu32, n);
		tr_lsn_format(b->start_lsn, start);
		tr_lsn_format(b->stop_lsn, stop);
		tr_backup_time_iso(b->start_time, t0);
		tr_backup_time_iso(b->stop_time, t1);
		printf("%-17s %-20s %-20s %-12s %-12s %3" PRIu32 " %3s %6d %10.1f %10.1f %10.1f %8.1f\n", b->label, t0, t1,
		       start, stop, b->timeline, sec, b->pg_version, (double)b->logical_bytes / 1048576,
		       (double)b->stored_bytes / 1048576, (double)b->new_bytes / 1048576, b->duration);
	}
	print_pages_table(set);
	print_damage_table(d);
	for (int k = 0; k < s->n; k++) {
		const tr_section *x = &s->v[k];
		char id[160];
		tr_section_describe(x, id, sizeof id);
		if (x->damaged)
			printf("history section %" PRIu32 "%s: DAMAGED: %s\n", x->n, k == s->n - 1 ? " (current)" : "", x->why);
		else if (x->id.sysid)
			printf("%s%s\n", id, k == s->n - 1 ? ", current" : "");
		else
			printf("history sections: none recorded yet (the next archive-put, backup or check records "
			       "the cluster)\n");
		print_wal_table(&w[k]);
	}
}

/* Reads the history files noted in the listing and finds the tips. */
static int timelines(tr_repo *r, const tr_backupset *set, const tr_sections *s, struct wal_range *w)
{
	uint64_t seg_size = 16 * 1024 * 1024;
	for (int i = set->n - 1; i >= 0; i--)
		if (tr_section_of_backup(s, &set->b[i]) == tr_repo_section(r)) {
			seg_size = set->b[i].wal_segment_size;
			break;
		}
	int rc = tr_timelines_read(r, &w->tl);
	if (rc != TR_OK)
		return rc;
	if ((w->nst = tr_timeline_states(&w->tl, seg_size, &w->st)) < 0) {
		tr_repo_set_error(r, "out of memory");
		return TR_ENOMEM;
	}
	for (int i = 0; i < w->nst; i++)
		w->tips += w->st[i].tip;
	return TR_OK;
}

/* The WAL and timelines of every section. */
static int load_wal(tr_repo *r, const tr_backupset *set, const tr_sections *s, struct wal_range *w)
{
	int rc = TR_OK;
	for (int k = 0; rc == TR_OK && k < s->n; k++) {
		tr_repo_use_section(r, s->v[k].n);
		rc = tr_repo_list(r, tr_repo_wal_prefix(r), wal_range_add, &w[k]);
		if (rc == TR_OK)
			rc = timelines(r, set, s, &w[k]);
	}
	return rc;
}

static void free_wal(struct wal_range *w, int n)
{
	for (int k = 0; w && k < n; k++) {
		tr_timelines_free(&w[k].tl);
		free(w[k].st);
	}
	free(w);
}

int tr_cmd_list(tr_config *cfg, int argc, char **argv)
{
	tr_repo *r = NULL;
	tr_repo_settings rs;
	tr_backupset set = { NULL, 0 };
	tr_backup_damages dmg = { NULL, 0 };
	tr_sections sections = { NULL, 0 };
	struct wal_range *w = NULL;
	(void)argv;
	if (tr_cmd_enter("list", NULL, cfg, argc, &rs) != 0)
		return 1;
	int rc = tr_repo_connect(&r, &rs);
	if (rc == TR_OK)
		rc = tr_repo_unlock(r, 0);
	if (rc == TR_OK)
		rc = tr_backupset_load_checked(r, &set, &dmg);
	if (rc == TR_OK)
		rc = tr_sections_for_listing(r, &sections);
	if (rc == TR_OK && !(w = calloc((size_t)sections.n, sizeof *w))) {
		tr_repo_set_error(r, "out of memory");
		rc = TR_ENOMEM;
	}
	if (rc == TR_OK)
		rc = load_wal(r, &set, &sections, w);
	if (rc != TR_OK)
		tr_error("list: %s", tr_repo_error(r));
	else if (tr_config_get(cfg, TR_S_JSON))
		print_json(&set, &dmg, &sections, w);
	else
		print_table(r, &set, &dmg, &sections, w);
	tr_backupset_free(&set);
	free_wal(w, sections.n);
	tr_sections_free(&sections);
	tr_backup_damages_free(&dmg);
	tr_repo_close(r);
	return rc == TR_OK ? 0 : 1;
}
