/* entry.c - what a command that takes no arguments and reaches the
 * repository does first (see commands.h). */
#include "config.h"
#include "cmd/commands.h"
#include "base/log.h"

int tr_cmd_enter(const char *name, const char *hint, const tr_config *cfg, int argc, tr_repo_settings *rs)
{
	char err[2048];
	if (argc != 0) {
		tr_error("%s: takes no arguments%s", name, hint ? hint : "");
		return 1;
	}
	if (tr_conf_storage(cfg, rs, err, sizeof err) != 0) {
		tr_error("%s: %s", name, err);
		return 1;
	}
	return 0;
}
