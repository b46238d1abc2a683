/* resolve.c - settings into the typed structs of the layers (see resolve.h). */
#include "config.h"
#include "conf/resolve.h"
#include "base/assert.h"
#include "format/format.h"

#include <string.h>

static int cipher_id(const char *name)
{
	if (name && strcmp(name, "aes-256-gcm") == 0)
		return TR_CIPHER_AES256GCM;
	if (name && strcmp(name, "chacha20-poly1305") == 0)
		return TR_CIPHER_CHACHA20POLY1305;
	return TR_CIPHER_AUTO;
}

static void storage(const tr_config *cfg, tr_storage_settings *s)
{
	const tr_setting_def *d = tr_setting_defs();
	s->driver = tr_config_get(cfg, TR_S_DRIVER);
	s->driver_dir = tr_config_get(cfg, TR_S_DRIVER_DIR);
	s->bucket = tr_config_get(cfg, TR_S_BUCKET);
	s->endpoint = tr_config_get(cfg, TR_S_ENDPOINT);
	s->prefix = tr_config_get(cfg, TR_S_STORAGE_PREFIX);
	s->azure_account = tr_config_get(cfg, TR_S_AZURE_ACCOUNT);
	s->azure_connection_string = tr_config_get(cfg, TR_S_AZURE_CONNECTION_STRING);
	s->nby_name = 0;
	for (int id = 0; id < TR_S_COUNT; id++) {
		if (!(d[id].flags & TR_SF_DRIVER))
			continue;
		TR_ASSERT(s->nby_name < TR_DRIVER_SETTINGS_MAX);
		s->by_name[s->nby_name++] = (tr_named_value){ d[id].name, tr_config_get(cfg, id) };
	}
}

void tr_conf_repo(const tr_config *cfg, tr_repo_settings *out)
{
	static char passphrase_name[128];
	memset(out, 0, sizeof *out);
	storage(cfg, &out->storage);
	out->database_id = tr_config_get(cfg, TR_S_DATABASE_ID);
	out->passphrase = tr_config_get(cfg, TR_S_ENCRYPTION_KEY);
	out->passphrase_name = tr_setting_label(TR_S_ENCRYPTION_KEY, passphrase_name, sizeof passphrase_name);
	out->state_dir = tr_config_get(cfg, TR_S_STATE_DIR);
	out->kdf_iterations = (uint32_t)tr_config_int(cfg, TR_S_KDF_ITERATIONS);
	out->cipher = cipher_id(tr_config_get(cfg, TR_S_CIPHER));
	out->compress_level = (int)tr_config_int(cfg, TR_S_COMPRESS_LEVEL);
	out->lock_timeout = tr_config_int(cfg, TR_S_LOCK_TIMEOUT);
	out->parallel = (int)tr_config_int(cfg, TR_S_PARALLEL);
	out->transfers = tr_config_get(cfg, TR_S_TRANSFERS) ? (int)tr_config_int(cfg, TR_S_TRANSFERS) : 0;
	out->chunk_size = tr_config_int(cfg, TR_S_CHUNK_SIZE);
}

int tr_conf_storage(const tr_config *cfg, tr_repo_settings *out, char *err, size_t errlen)
{
	if (tr_config_require_storage(cfg, err, errlen) != 0)
		return -1;
	tr_conf_repo(cfg, out);
	return 0;
}
