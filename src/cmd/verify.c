/*
 * verify.c - `totalrecall verify [--backup LABEL] [--full]`: can the
 * backups in the repository be restored, and is every stored object intact?
 *
 * Phases (see verify.h for the parts):
 *  1. the keyring object parses and names the key in use; the history
 *     sections (section.h) read;
 *  2. the listing of backups/, chunks/, and every section's WAL goes to a
 *     temporary file;
 *  3. every backup's manifest is decoded (always: its references are
 *     needed), and its info must exist;
 *  4. WAL, .history and info objects are decoded on the worker pool;
 *  5. WAL continuity from each backup's start to the end of the archive;
 *  6. chunks, slice by slice: references, decoding, unreferenced chunks;
 *  7. the state for the next run (skipped with --backup, which verifies
 *     only part of the repository).
 * Objects verified by an earlier run are skipped unless --full (see
 * verify_state.h).  Problems are printed one per line on stdout.  Exit
 * status, for monitors:
 *   0  every backup in scope is restorable, the newest one up to the last
 *      archived WAL (the latest state);
 *   2  every backup is restorable, but the WAL after the newest backup has
 *      a gap: a restore to the latest state would stop (and, without a
 *      target, promote) before it; the last reachable segment is named;
 *   1  a backup is not restorable, or verify could not finish.
 * Gaps after older backups' stops and unreferenced chunks are reported but
 * change nothing: the newest backup is what a restore to the latest state
 * starts from.
 */
#include "config.h"
#include "cmd/verify.h"
#include "repo/backupset.h"
#include "cmd/commands.h"
#include "conf/resolve.h"
#include "base/log.h"
#include "base/metric.h"
#include "base/util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Decodes the manifest of each backup in scope. */
static int load_backups(tr_verify *v)
{
	char line[TR_VERIFY_LINE], *key, kind, label[64];
	int64_t mtime, size;
	rewind(v->listing);
	while (fgets(line, sizeof line, v->listing)) {
		if (line[0] != 'm' || tr_verify_parse_line(line, &kind, &mtime, &size, &key) != 0)
			continue;
		const char *slash = strchr(key + 8, '/');
		if (!slash || slash - (key + 8) >= (int)sizeof label)
			continue;
		snprintf(label, sizeof label, "%.*s", (int)(slash - (key + 8)), key + 8);
		if (v->only && strcmp(label, v->only) != 0)
			continue;
		void *grown = realloc(v->b, (size_t)(v->nb + 1) * sizeof *v->b);
		if (!grown) {
			snprintf(v->err, sizeof v->err, "out of memory");
			return -1;
		}
		v->b = grown;
		struct tr_vbackup *b = &v->b[v->nb++];
		int status;
		memset(b, 0, sizeof *b);
		snprintf(b->label, sizeof b->label, "%s", label);
		b->mf = tr_manifest_open(v->repo, label, &b->h, &status);
		v->manifests_read++;
		if (!b->mf && status != TR_REPO_ECORRUPT && status != TR_REPO_EKEY && status != TR_ENOENT) {
			snprintf(v->err, sizeof v->err, "%s", tr_repo_error(v->repo));
			return -1;
		}
		if (!b->mf) {
			b->broken = 1;
			tr_verify_report(v, "damaged manifest of backup %s: %s", label, tr_repo_error(v->repo));
		}
	}
	if (v->only && v->nb == 0) {
		snprintf(v->err, sizeof v->err, "no backup labelled %s in the repository", v->only);
		return -1;
	}
	return 0;
}

/* With --backup, the WAL before its start is out of scope. */
static void set_scope(tr_verify *v)
{
	if (v->only && v->b[0].mf && v->b[0].h.wal_segment_size) {
		uint64_t lsn = v->b[0].h.start_lsn;
		v->start_seg_min = (lsn >> 32) << 32 | (lsn & 0xffffffffu) / v->b[0].h.wal_segment_size;
	}
}

static int has_line(tr_verify *v, char want, const char *key)
{
	char line[TR_VERIFY_LINE], *k, kind;
	int64_t mtime, size;
	rewind(v->listing);
	while (fgets(line, sizeof line, v->listing))
		if (line[0] == want && tr_verify_parse_line(line, &kind, &mtime, &size, &k) == 0 && !strcmp(k, key))
			return 1;
	return 0;
}

/* list and restore read backups/<label>/info: a missing or damaged one
 * makes them fail. */
static void check_infos(tr_verify *v)
{
	char rel[128];
	for (int i = 0; i < v->nb; i++) {
		snprintf(rel, sizeof rel, "backups/%s/info", v->b[i].label);
		const char *why = tr_verify_damage(v, rel);
		if (!why && has_line(v, 'i', rel))
			continue;
		v->b[i].broken = 1;
		tr_verify_report(v, "%s info of backup %s%s%s", why ? "damaged" : "missing", v->b[i].label,
				 why ? ": " : "", why ? why : "");
	}
}

/* Damaged WAL and history files (chunks are reported with their backups). */
static void report_damaged_wal(tr_verify *v)
{
	for (size_t i = 0; i < v->ndmg; i++) {
		uint32_t sec = tr_section_of_key(v->dmg[i].key);
		if (sec == 1)
			tr_verify_report(v, "damaged WAL file %s: %s", tr_basename(v->dmg[i].key), v->dmg[i].reason);
		else if (sec)
			tr_verify_report(v, "damaged WAL file %s of history section %u: %s", tr_basename(v->dmg[i].key),
					 (unsigned)sec, v->dmg[i].reason);
	}
}

/* The history sections (section.h): a damaged one is reported; the
 * backups of its cluster then cannot be told apart (verify_wal.c). */
static int check_sections(tr_verify *v)
{
	if (tr_sections_for_listing(v->repo, &v->sections) != TR_OK) {
		snprintf(v->err, sizeof v->err, "cannot read the history sections: %s", tr_repo_error(v->repo));
		return -1;
	}
	for (int i = 0; i < v->sections.n; i++)
		if (v->sections.v[i].damaged)
			tr_verify_report(v, "damaged history section %u: %s", (unsigned)v->sections.v[i].n,
					 v->sections.v[i].why);
	return 0;
}

static int write_state(tr_verify *v, const char *path)
{
	char line[TR_VERIFY_LINE], *key, kind;
	int64_t mtime, size;
	tr_vstate_writer w;
	if (tr_vstate_begin(&w, path, v->watermark, TR_VERIFY_MARGIN) != 0)
		return -1;
	rewind(v->listing);
	while (fgets(line, sizeof line, v->listing)) {
		if (tr_verify_parse_line(line, &kind, &mtime, &size, &key) != 0 || !strchr("whic", kind))
			continue;
		if (tr_verify_damage(v, key))
			tr_vstate_damaged(&w, key);
		else if (mtime > 0 && mtime >= v->watermark - TR_VERIFY_MARGIN)
			tr_vstate_recent(&w, key, mtime, size);
	}
	return tr_vstate_commit(&w);
}

static int run_phases(tr_verify *v, int *keyring_bad)
{
	int workers = tr_pool_transfers(v->repo);
	int rc = tr_verify_check_keyring(v);
	if (rc < 0)
		return -1;
	*keyring_bad = rc;
	if (check_sections(v) != 0 || tr_verify_collect(v) != 0 || load_backups(v) != 0)
		return -1;
	set_scope(v);
	v->pool = tr_pool_start(v->repo, workers, 2 * workers, tr_verify_decode_job, v, v->err, sizeof v->err);
	if (v->pool)
		tr_pool_on_skip(v->pool, tr_verify_skip_job);
	return v->pool ? 0 : -1;
}

static int run_checks(tr_verify *v)
{
	if (tr_verify_decode_small(v) != 0)
		return -1;
	check_infos(v);
	report_damaged_wal(v);
	if (tr_verify_wal(v) != 0)
		return -1;
	return tr_verify_chunks(v);
}

/* The newest backup in scope (by stop time) whose manifest was read. */
static const struct tr_vbackup *newest_backup(const tr_verify *v)
{
	const struct tr_vbackup *n = NULL;
	for (int i = 0; i < v->nb; i++)
		if (v->b[i].mf && (!n || v->b[i].h.stop_time > n->h.stop_time ||
				   (v->b[i].h.stop_time == n->h.stop_time && v->b[i].h.stop_lsn > n->h.stop_lsn)))
			n = &v->b[i];
	return n;
}

/* 2 when the latest state cannot be reached from the newest backup. */
static int latest_state(tr_verify *v)
{
	const struct tr_vbackup *n = newest_backup(v);
	if (!n || !n->first_missing[0])
		return 0;
	tr_verify_report(v, "latest state not reachable: WAL from %s is missing after the newest backup %s; a "
			 "restore to the latest state stops at %s, the last reachable segment", n->first_missing,
			 n->label, n->last_reachable);
	tr_error("verify: the latest state is not reachable: WAL is missing from %s on; recovery from backup %s "
		 "stops at %s", n->first_missing, n->label, n->last_reachable);
	tr_metric_status("incomplete");
	return 2;
}

static int summarise(tr_verify *v, int keyring_bad)
{
	int broken = 0;
	for (int i = 0; i < v->nb; i++)
		broken += v->b[i].broken;
	printf("verify: decoded %" PRIu64 " objects (%" PRIu64 " WAL, %" PRIu64 " chunks, %" PRIu64 " info; %" PRIu64
	       " bytes), skipped %" PRIu64 " verified by an earlier run; read %" PRIu64 " manifests; %d backup%s, "
	       "%d not restorable\n", v->decoded, v->dec_wal, v->dec_chunk, v->dec_info, v->decoded_bytes, v->skipped,
	       v->manifests_read, v->nb, v->nb == 1 ? "" : "s", broken + (keyring_bad ? v->nb - broken : 0));
	tr_metric_bytes(v->decoded_bytes, 0);
	if (broken || keyring_bad) {
		tr_error("verify: %d of %d backup%s not restorable (see the lines above)",
			 keyring_bad ? v->nb : broken, v->nb, v->nb == 1 ? " is" : "s are");
		return 1;
	}
	return latest_state(v);
}

static void verify_free(tr_verify *v)
{
	if (v->pool)
		tr_pool_stop(v->pool);
	for (int i = 0; i < v->nb; i++) {
		if (v->b[i].mf)
			fclose(v->b[i].mf);
		tr_manifest_hdr_free(&v->b[i].h);
	}
	free(v->b);
	for (size_t i = 0; i < v->ndmg; i++) {
		free(v->dmg[i].key);
		free(v->dmg[i].reason);
	}
	free(v->dmg);
	tr_sections_free(&v->sections);
	if (v->listing)
		fclose(v->listing);
	tr_vstate_free(&v->prev);
	pthread_mutex_destroy(&v->mu);
}

int tr_cmd_verify(tr_config *cfg, int argc, char **argv)
{
	char state[4400];
	tr_verify v;
	tr_repo *r = NULL;
	tr_repo_settings rs;
	int keyring_bad = 0, rc;
	(void)argv;
	if (tr_cmd_enter("verify", " (--backup LABEL, --full)", cfg, argc, &rs) != 0)
		return 1;
	memset(&v, 0, sizeof v);
	pthread_mutex_init(&v.mu, NULL);
	v.only = tr_config_get(cfg, TR_S_BACKUP_LABEL);
	v.full = tr_config_get(cfg, TR_S_FULL) != NULL;
	rc = tr_repo_connect(&r, &rs);
	v.repo = r;
	if (rc == TR_OK)
		rc = tr_repo_unlock(r, 0);
	if (rc != TR_OK) {
		snprintf(v.err, sizeof v.err, "%s", tr_repo_error(r));
		rc = -1;
	} else {
		tr_vstate_path(rs.state_dir, tr_repo_hash(r), state, sizeof state);
		if (!v.full)
			tr_vstate_load(&v.prev, state);
		v.full = v.full || !v.prev.valid;
		tr_debug("verify: %s run, state %s", v.full ? "full" : "incremental", state);
		rc = run_phases(&v, &keyring_bad);
	}
	if (rc == 0)
		rc = run_checks(&v);
	if (v.pool) {
		tr_pool_stop(v.pool);
		v.pool = NULL;
	}
	if (rc == 0 && !v.only && write_state(&v, state) != 0)
		tr_warn("verify: cannot write %s: the next run decodes everything again", state);
	if (rc == 0)
		rc = summarise(&v, keyring_bad);
	else
		tr_error("verify: %s", v.err);
	verify_free(&v);
	tr_repo_close(r);
	return rc == 0 || rc == 2 ? rc : 1;
}
