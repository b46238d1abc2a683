/* manifest.c - backup manifest text format (see manifest.h). */
#include "config.h"
#include "repo/manifest.h"
#include "pg/pgconn.h"
#include "base/util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN (3 * 4096 * 2 + 256)

void tr_manifest_hdr_free(tr_manifest_hdr *h)
{
	free(h->backup_label);
	free(h->tablespace_map);
	free(h->tablespace_names);
	free(h->damaged_list);
	h->backup_label = h->tablespace_map = h->tablespace_names = h->damaged_list = NULL;
}

void tr_path_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < outlen; p++) {
		if (*p <= 0x20 || *p == '%' || *p >= 0x7f) {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

int tr_path_decode(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	for (const char *p = in; *p; p++) {
		if (o + 1 >= outlen)
			return -1;
		if (*p == '%') {
			uint8_t b;
			char two[3] = { p[1], p[1] ? p[2] : 0, 0 };
			if (tr_unhex(two, &b, 1) != 0 || b == 0)
				return -1;
			out[o++] = (char)b;
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return 0;
}

static int write_hex_field(FILE *f, const char *key, const char *text)
{
	size_t n = strlen(text);
	char *hex = malloc(2 * n + 1);
	if (!hex)
		return -1;
	tr_hex((const uint8_t *)text, n, hex);
	int rc = fprintf(f, "%s %s\n", key, n ? hex : "-") < 0 ? -1 : 0;
	free(hex);
	return rc;
}

int tr_manifest_write_hdr(FILE *f, const tr_manifest_hdr *h)
{
	char start[24], stop[24];
	tr_lsn_format(h->start_lsn, start);
	tr_lsn_format(h->stop_lsn, stop);
	fprintf(f, "totalrecall-manifest %d\n", TR_MANIFEST_VERSION);
	fprintf(f, "label %s\nprior %s\npg-version %d\nsystem-id %s\ntimeline %" PRIu32 "\n", h->label,
		*h->prior ? h->prior : "-", h->pg_version, h->system_id, h->timeline);
	fprintf(f, "start-lsn %s\nstop-lsn %s\nstart-time %" PRId64 "\nstop-time %" PRId64 "\n", start, stop,
		h->start_time, h->stop_time);
	fprintf(f, "wal-segment-size %" PRIu64 "\nnext-xid %" PRIu64 "\nchunk-size %" PRIu64 "\n",
		h->wal_segment_size, h->next_xid, h->chunk_size);
	fprintf(f, "logical-bytes %" PRIu64 "\nstored-bytes %" PRIu64 "\nnew-bytes %" PRIu64 "\n", h->logical_bytes,
		h->stored_bytes, h->new_bytes);
	fprintf(f, "file-count %" PRIu64 "\nduration %.3f\n", h->file_count, h->duration);
	if (write_hex_field(f, "backup-label", h->backup_label ? h->backup_label : "") != 0 ||
	    write_hex_field(f, "tablespace-map", h->tablespace_map ? h->tablespace_map : "") != 0)
		return -1;
	if (h->stop_time_us && fprintf(f, "stop-time-us %" PRId64 "\n", h->stop_time_us) < 0)
		return -1;
	if (h->tablespace_names && *h->tablespace_names &&
	    write_hex_field(f, "tablespace-names", h->tablespace_names) != 0)
		return -1;
	if (*h->page_checksums &&
	    fprintf(f, "page-checksums %s\ndamaged-pages %" PRIu64 "\n", h->page_checksums, h->damaged_pages) < 0)
		return -1;
	if (h->damaged_list && *h->damaged_list && write_hex_field(f, "damaged-list", h->damaged_list) != 0)
		return -1;
	if (h->from_standby && fprintf(f, "from-standby 1\n") < 0)
		return -1;
	return fprintf(f, "entries\n") < 0 ? -1 : 0;
}

int tr_manifest_write_rec(FILE *f, const tr_mf_rec *r)
{
	char path[3 * 4096 + 1], target[3 * 4096 + 1];
	int rc;
	if (r->type != 'c')
		tr_path_encode(r->path, path, sizeof path);
	switch (r->type) {
	case 'd':
		rc = fprintf(f, "d %04o %s\n", r->mode, path);
		break;
	case 'l':
		tr_path_encode(r->target, target, sizeof target);
		rc = fprintf(f, "l %s %s\n", path, target);
		break;
	case 'f':
		rc = fprintf(f, "f %04o %" PRId64 " %" PRId64 " %s %s\n", r->mode, r->size, r->mtime, r->digest, path);
		break;
	default:
		rc = fprintf(f, "c %s %" PRIu64 " %" PRIu64 "\n", r->chunk, r->length, r->stored);
	}
	return rc < 0 ? -1 : 0;
}

int tr_manifest_write_end(FILE *f, uint64_t entries)
{
	return fprintf(f, "end %" PRIu64 "\n", entries) < 0 ? -1 : 0;
}

/* Reads one line without its newline; -1 at EOF or if too long. */
static int read_line(FILE *f, char *buf, size_t len)
{
	if (!fgets(buf, (int)len, f))
		return -1;
	size_t n = strlen(buf);
	if (n == 0 || buf[n - 1] != '\n')
		return -1;
	buf[n - 1] = '\0';
	return 0;
}

static char *unhex_text(const char *hex)
{
	if (strcmp(hex, "-") == 0)
		return strdup("");
	size_t n = strlen(hex) / 2;
	char *out = malloc(n + 1);
	if (!out || strlen(hex) % 2 || tr_unhex(hex, (uint8_t *)out, n) != 0) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	return out;
}

/* Applies one "key value" header line; -1 if malformed. */
static int hdr_field(tr_manifest_hdr *h, const char *key, const char *v)
{
	int ok = 1;
	if (!strcmp(key, "label")) ok = tr_strlcpy(h->label, v, sizeof h->label) == 0;
	else if (!strcmp(key, "prior")) ok = tr_strlcpy(h->prior, strcmp(v, "-") ? v : "", sizeof h->prior) == 0;
	else if (!strcmp(key, "pg-version")) h->pg_version = atoi(v);
	else if (!strcmp(key, "system-id")) ok = tr_strlcpy(h->system_id, v, sizeof h->system_id) == 0;
	else if (!strcmp(key, "timeline")) h->timeline = (uint32_t)strtoul(v, NULL, 10);
	else if (!strcmp(key, "start-lsn")) ok = tr_lsn_parse(v, &h->start_lsn) == 0;
	else if (!strcmp(key, "stop-lsn")) ok = tr_lsn_parse(v, &h->stop_lsn) == 0;
	else if (!strcmp(key, "start-time")) h->start_time = strtoll(v, NULL, 10);
	else if (!strcmp(key, "stop-time")) h->stop_time = strtoll(v, NULL, 10);
	else if (!strcmp(key, "wal-segment-size")) h->wal_segment_size = strtoull(v, NULL, 10);
	else if (!strcmp(key, "next-xid")) h->next_xid = strtoull(v, NULL, 10);
	else if (!strcmp(key, "chunk-size")) h->chunk_size = strtoull(v, NULL, 10);
	else if (!strcmp(key, "logical-bytes")) h->logical_bytes = strtoull(v, NULL, 10);
	else if (!strcmp(key, "stored-bytes")) h->stored_bytes = strtoull(v, NULL, 10);
	else if (!strcmp(key, "new-bytes")) h->new_bytes = strtoull(v, NULL, 10);
	else if (!strcmp(key, "file-count")) h->file_count = strtoull(v, NULL, 10);
	else if (!strcmp(key, "duration")) h->duration = strtod(v, NULL);
	else if (!strcmp(key, "backup-label")) ok = (free(h->backup_label), h->backup_label = unhex_text(v)) != NULL;
	else if (!strcmp(key, "tablespace-map")) ok = (free(h->tablespace_map), h->tablespace_map = unhex_text(v)) != NULL;
	else if (!strcmp(key, "stop-time-us")) h->stop_time_us = strtoll(v, NULL, 10);
	else if (!strcmp(key, "tablespace-names")) ok = (free(h->tablespace_names), h->tablespace_names = unhex_text(v)) != NULL;
	else if (!strcmp(key, "page-checksums")) ok = tr_strlcpy(h->page_checksums, v, sizeof h->page_checksums) == 0;
	else if (!strcmp(key, "damaged-pages")) h->damaged_pages = strtoull(v, NULL, 10);
	else if (!strcmp(key, "damaged-list")) ok = (free(h->damaged_list), h->damaged_list = unhex_text(v)) != NULL;
	else if (!strcmp(key, "from-standby")) h->from_standby = atoi(v) == 1;
	/* Unknown keys are newer fields: ignored, so old readers keep working. */
	return ok ? 0 : -1;
}

int tr_manifest_read_hdr(FILE *f, tr_manifest_hdr *h, char *err, size_t errlen)
{
	char *line = malloc(LINE_MAX_LEN);
	int lineno = 1, rc = -1;
	memset(h, 0, sizeof *h);
	if (!line || read_line(f, line, LINE_MAX_LEN) != 0 || strcmp(line, "totalrecall-manifest 1") != 0) {
		snprintf(err, errlen, "not a TotalRecall manifest of version %d", TR_MANIFEST_VERSION);
		goto out;
	}
	while (read_line(f, line, LINE_MAX_LEN) == 0) {
		lineno++;
		if (strcmp(line, "entries") == 0) {
			/* tablespace-map may be absent: readers expect a string. */
			if (!h->tablespace_map)
				h->tablespace_map = strdup("");
			if (!h->tablespace_names)
				h->tablespace_names = strdup("");
			if (!h->damaged_list)
				h->damaged_list = strdup("");
			/* Older manifests have the stop time to the second: the stop
			 * was within it, so take its end (never too early). */
			if (!h->stop_time_us)
				h->stop_time_us = h->stop_time >= 0 && h->stop_time < INT64_MAX / 1000000
					? h->stop_time * 1000000 + 999999 : INT64_MAX;
			rc = h->backup_label && h->tablespace_map && h->tablespace_names && h->damaged_list && h->label[0] &&
			     h->stop_lsn ? 0 : -1;
			if (rc)
				snprintf(err, errlen, "manifest header lacks label, stop-lsn or backup-label");
			goto out;
		}
		char *sp = strchr(line, ' ');
		if (!sp || (*sp = '\0', hdr_field(h, line, sp + 1) != 0)) {
			snprintf(err, errlen, "manifest line %d is malformed", lineno);
			goto out;
		}
	}
	snprintf(err, errlen, "manifest ends inside its header (line %d)", lineno);
out:
	free(line);
	if (rc)
		tr_manifest_hdr_free(h);
	return rc;
}

static int parse_rec(char *line, tr_mf_rec *r)
{
	char path[3 * 4096 + 1], target[3 * 4096 + 1];
	unsigned long long a, b;
	long long size, mtime;
	memset(r, 0, sizeof *r);
	r->type = line[0];
	switch (line[0]) {
	case 'd':
		return sscanf(line, "d %o %12288s", &r->mode, path) == 2 ? tr_path_decode(path, r->path, sizeof r->path) : -1;
	case 'l':
		if (sscanf(line, "l %12288s %12288s", path, target) != 2)
			return -1;
		return tr_path_decode(path, r->path, sizeof r->path) | tr_path_decode(target, r->target, sizeof r->target);
	case 'f':
		if (sscanf(line, "f %o %lld %lld %64s %12288s", &r->mode, &size, &mtime, r->digest, path) != 5 || size < 0)
			return -1;
		r->size = size;
		r->mtime = mtime;
		return tr_path_decode(path, r->path, sizeof r->path);
	case 'c':
		if (sscanf(line, "c %65s %llu %llu", r->chunk, &a, &b) != 3)
			return -1;
		r->length = a;
		r->stored = b;
		return 0;
	}
	return -1;
}

int tr_manifest_read_rec(FILE *f, tr_mf_rec *r, char *err, size_t errlen)
{
	char *line = malloc(LINE_MAX_LEN);
	int rc = -1;
	if (!line) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (read_line(f, line, LINE_MAX_LEN) != 0)
		snprintf(err, errlen, "manifest is truncated: no end record");
	else if (strncmp(line, "end ", 4) == 0)
		rc = 0;
	else if (parse_rec(line, r) == 0)
		rc = 1;
	else
		snprintf(err, errlen, "manifest record is malformed: %.60s", line);
	free(line);
	return rc;
}
