/* fuzz_config.c - libFuzzer target for the configuration file parser.
 *
 * Built and run by tests/fuzz/run.sh.  The input becomes the contents of a
 * config file passed as -c would pass it; tr_config_load parses it,
 * resolves file:/env: references and validates every value.  Standard
 * input is /dev/null, so a "file:/dev/stdin" value cannot block.
 */
#include "config.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0) {
		dup2(devnull, 0);
		close(devnull);
	}
	snprintf(path, sizeof path, "/tmp/fuzz_config.%ld.conf", (long)getpid());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[2048];
	tr_config cfg;
	if (!path[0])
		LLVMFuzzerInitialize(NULL, NULL);
	FILE *f = fopen(path, "w");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	tr_config_init(&cfg);
	cfg.config_file = strdup(path);
	if (tr_config_load(&cfg, err, sizeof err) == 0) {
		/* Every value that loaded must be readable. */
		for (int i = 0; i < TR_S_COUNT; i++)
			(void)tr_config_get(&cfg, i);
		(void)tr_config_int(&cfg, TR_S_PARALLEL);
	}
	tr_config_free(&cfg);
	unlink(path);
	return 0;
}
