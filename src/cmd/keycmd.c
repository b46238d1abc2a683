/*
 * keycmd.c - `totalrecall init`, `totalrecall key rotate` and
 * `totalrecall key list`: what they print and exit with.  What they do to
 * the keyring is the repository's (repo/repo_keys.c).
 */
#include "config.h"
#include "cmd/commands.h"
#include "conf/resolve.h"
#include "format/keyring.h"
#include "base/log.h"
#include "repo/repo.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_state(const tr_repo *r, const char *what)
{
	tr_keyring *ring = malloc(sizeof *ring);
	char id[17];
	if (ring && tr_repo_keyring_info(r, ring, id) == 0)
		printf("%s %s: keyring generation %llu, current key %s, %d key%s\n", what, tr_repo_base(r),
		       (unsigned long long)ring->generation, id, ring->nkeys, ring->nkeys == 1 ? "" : "s");
	free(ring);
}

int tr_cmd_init(tr_config *cfg, int argc, char **argv)
{
	tr_repo_settings rs;
	(void)argv;
	if (tr_cmd_enter("init", NULL, cfg, argc, &rs) != 0)
		return 1;
	tr_repo *r;
	int created = 0;
	int rc = tr_repo_connect(&r, &rs);
	if (rc == TR_OK)
		rc = tr_repo_init(r, &created);
	if (rc == TR_OK)
		print_state(r, created ? "created repository" : "repository");
	else
		tr_error("init: %s", tr_repo_error(r));
	tr_repo_close(r);
	return rc == TR_OK ? 0 : 1;
}

/* --- key rotate --- */

static int key_rotate(tr_config *cfg, const tr_repo_settings *rs)
{
	const char *pass = tr_config_get(cfg, TR_S_ENCRYPTION_KEY), *np = tr_config_get(cfg, TR_S_NEW_ENCRYPTION_KEY);
	int new_data_key = tr_config_get(cfg, TR_S_NEW_DATA_KEY) != NULL;
	if (!np && !new_data_key) {
		tr_error("key rotate: give --new-encryption-key (or TOTALRECALL_NEW_ENCRYPTION_KEY), --new-data-key, "
			 "or both");
		return 1;
	}
	if (np && strcmp(np, pass) == 0 && !new_data_key) {
		tr_error("key rotate: TOTALRECALL_NEW_ENCRYPTION_KEY is the current encryption key");
		return 1;
	}
	tr_repo *r;
	int rc = tr_repo_connect(&r, rs);
	if (rc == TR_OK)
		rc = tr_repo_unlock_flags(r, TR_UNLOCK_WRITER);
	if (rc == TR_OK)
		rc = tr_repo_rotate(r, np, new_data_key);
	if (rc == TR_OK) {
		print_state(r, "rotated");
		if (np)
			printf("set TOTALRECALL_ENCRYPTION_KEY to the new passphrase on every host: the old one is "
			       "refused from now on\n");
	} else {
		tr_error("key rotate: %s", tr_repo_error(r));
	}
	tr_repo_close(r);
	return rc == TR_OK ? 0 : 1;
}

/* --- key list --- */

static void print_keys(const tr_repo *r, const tr_keyring *ring)
{
	printf("repository %s: keyring generation %llu, PBKDF2-SHA256 %u iterations\n", tr_repo_base(r),
	       (unsigned long long)ring->generation, (unsigned)ring->iterations);
	printf("%-16s  %-20s  %s\n", "key id", "created (UTC)", "");
	for (int i = 0; i < ring->nkeys; i++) {
		char id[17], when[32] = "unknown (0.1)";
		time_t t = (time_t)ring->keys[i].created;
		struct tm tm;
		tr_hex(ring->keys[i].id, 8, id);
		if (t > 0 && gmtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-16s  %-20s  %s\n", id, when, memcmp(ring->keys[i].id, ring->current, 8) == 0 ? "current" : "");
	}
}

static int key_list(const tr_repo_settings *rs)
{
	tr_repo *r = NULL;
	char id[17];
	tr_keyring *ring = malloc(sizeof *ring);
	int rc = ring ? tr_repo_connect(&r, rs) : TR_ENOMEM;
	if (rc == TR_OK)
		rc = tr_repo_unlock(r, 0);
	if (rc == TR_OK && tr_repo_keyring_info(r, ring, id) == 0)
		print_keys(r, ring);
	else if (ring)
		tr_error("key list: %s", tr_repo_error(r));
	tr_repo_close(r);
	free(ring);
	return rc == TR_OK ? 0 : 1;
}

int tr_cmd_key(tr_config *cfg, int argc, char **argv)
{
	char err[2048];
	tr_repo_settings rs;
	if (argc != 1 || (strcmp(argv[0], "rotate") != 0 && strcmp(argv[0], "list") != 0)) {
		tr_error("key: expected \"key rotate\" or \"key list\"");
		return 1;
	}
	if (tr_conf_storage(cfg, &rs, err, sizeof err) != 0) {
		tr_error("key %s: %s", argv[0], err);
		return 1;
	}
	return strcmp(argv[0], "rotate") == 0 ? key_rotate(cfg, &rs) : key_list(&rs);
}
