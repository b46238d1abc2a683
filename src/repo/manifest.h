/*
 * manifest.h - what a backup is: its header (PostgreSQL version, system
 * identifier, timeline, LSNs, times, sizes, backup_label and
 * tablespace_map byte for byte) and its entries (directories, links,
 * files with mode, size, time and digest, and each file's chunks).
 *
 * Text, one record per line, so a person can read a decrypted manifest:
 *   totalrecall-manifest 1
 *   <key> <value>            header lines (see tr_manifest_hdr)
 *   entries                  end of the header
 *   d <mode> <path>
 *   l <path> <target>
 *   f <mode> <size> <mtime> <digest> <path>
 *   c <chunk id> <length> <stored bytes>     the chunks of the last f, in order
 *   end <entry count>
 * Paths are percent-encoded (bytes <= 0x20, '%', 0x7f and above).  A file's
 * digest is SHA-256 over its chunk ids in order; each chunk id is a keyed
 * hash of the chunk's content, so the digest binds the whole content.
 */
#ifndef TR_MANIFEST_H
#define TR_MANIFEST_H

#include <stdint.h>
#include <stdio.h>

#define TR_MANIFEST_VERSION 1

typedef struct tr_manifest_hdr {
	char label[64];
	char prior[64];          /* label of the backup it was deduplicated against, or "" */
	int pg_version;
	char system_id[32];
	uint32_t timeline;
	uint64_t start_lsn, stop_lsn;
	int64_t start_time, stop_time;   /* seconds since the epoch, UTC */
	uint64_t wal_segment_size;
	uint64_t next_xid;
	uint64_t chunk_size;
	uint64_t logical_bytes;  /* sum of file sizes */
	uint64_t stored_bytes;   /* sum of the stored sizes of its chunks */
	uint64_t new_bytes;      /* stored bytes this backup uploaded */
	uint64_t file_count;
	double duration;         /* seconds */
	char *backup_label;      /* malloc'ed */
	char *tablespace_map;    /* malloc'ed, may be "" */
	/* When pg_backup_stop had returned, by the server's clock, Unix
	 * microseconds: every commit before stop_lsn is older.  Manifests
	 * written before this field read as the end of stop_time's second. */
	int64_t stop_time_us;
	char *tablespace_names;  /* malloc'ed: "<oid> <hex of the name>" lines, "" if unknown */
	/* Data page checksums (pagecheck.h): "verified" when the backup checked
	 * the pages, "off" when the cluster has none, "" for older backups. */
	char page_checksums[16];
	uint64_t damaged_pages;  /* pages whose checksum failed */
	char *damaged_list;      /* malloc'ed: "<path> <block>" lines (the first 1000), "" if none */
	int from_standby;        /* taken on a standby */
} tr_manifest_hdr;

typedef struct tr_mf_rec {
	char type;               /* 'd', 'l', 'f', 'c' */
	unsigned mode;
	int64_t size, mtime;
	char digest[65];
	char path[4096];
	char target[4096];       /* 'l' */
	char chunk[66];          /* 'c': chunk id */
	uint64_t length, stored; /* 'c' */
} tr_mf_rec;

void tr_manifest_hdr_free(tr_manifest_hdr *h);
/* Writes the header (up to and including "entries"). */
int tr_manifest_write_hdr(FILE *f, const tr_manifest_hdr *h);
int tr_manifest_write_rec(FILE *f, const tr_mf_rec *r);
int tr_manifest_write_end(FILE *f, uint64_t entries);

/* Reads the header; 0, or -1 with err. */
int tr_manifest_read_hdr(FILE *f, tr_manifest_hdr *h, char *err, size_t errlen);
/* Next record: 1, 0 at "end", -1 on error (err names the line). */
int tr_manifest_read_rec(FILE *f, tr_mf_rec *r, char *err, size_t errlen);

void tr_path_encode(const char *in, char *out, size_t outlen);
int tr_path_decode(const char *in, char *out, size_t outlen);

#endif
