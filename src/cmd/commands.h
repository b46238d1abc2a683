/* commands.h - the CLI commands.  Each takes the loaded configuration and
 * its positional arguments, and returns the process exit status. */
#ifndef TR_COMMANDS_H
#define TR_COMMANDS_H

#include "conf/resolve.h"
#include "conf/settings.h"

/* archive-get: any failure other than "confirmed absent" must stop
 * PostgreSQL's recovery, which it does for exit statuses above 125. */
#define TR_EXIT_FATAL 128

/* The entry of a command that takes no arguments and reaches the
 * repository: 0 with *rs resolved (resolve.h), or 1, its exit status,
 * after one line: "<name>: takes no arguments<hint>", or the storage
 * setting that is missing. */
int tr_cmd_enter(const char *name, const char *hint, const tr_config *cfg, int argc, tr_repo_settings *rs);

int tr_cmd_archive_put(tr_config *cfg, int argc, char **argv);
int tr_cmd_archive_get(tr_config *cfg, int argc, char **argv);
int tr_cmd_backup(tr_config *cfg, int argc, char **argv);
int tr_cmd_restore(tr_config *cfg, int argc, char **argv);
int tr_cmd_list(tr_config *cfg, int argc, char **argv);
int tr_cmd_check(tr_config *cfg, int argc, char **argv);
int tr_cmd_expire(tr_config *cfg, int argc, char **argv);
int tr_cmd_verify(tr_config *cfg, int argc, char **argv);
int tr_cmd_init(tr_config *cfg, int argc, char **argv);
int tr_cmd_key(tr_config *cfg, int argc, char **argv);
int tr_cmd_upgrade(tr_config *cfg, int argc, char **argv);

#endif
