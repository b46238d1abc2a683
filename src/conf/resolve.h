/*
 * resolve.h - the settings, resolved once at a command's entry into the
 * typed structs of the layers below, which never see the configuration
 * object: a lower layer takes what it needs, named and typed, and the
 * settings table stays the one place that knows names, sources and
 * defaults (settings.h).
 */
#ifndef TR_RESOLVE_H
#define TR_RESOLVE_H

#include "conf/settings.h"
#include "repo/repo.h"

/* The repository's settings: its storage (the driver's settings by name
 * among them, as the table marks them with TR_SF_DRIVER), database id,
 * passphrase, state directory and what new objects are written with.  The
 * strings point into cfg, which must outlive every connection made. */
void tr_conf_repo(const tr_config *cfg, tr_repo_settings *out);
/* A command's entry: the settings needed to reach the repository are
 * set (tr_config_require_storage), then tr_conf_repo.  0, or -1 with one
 * line in err naming what is missing. */
int tr_conf_storage(const tr_config *cfg, tr_repo_settings *out, char *err, size_t errlen);

#endif
