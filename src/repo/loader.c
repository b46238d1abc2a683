/* loader.c - dlopen a storage driver and check its ABI. */
#include "config.h"
#include "repo/loader.h"
#include "repo/driver_v1.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef TR_PKGLIBDIR
#define TR_PKGLIBDIR "/usr/local/lib/totalrecall"
#endif

/* A driver name becomes part of a path: keep it to [a-z0-9_-]. */
static int driver_name_ok(const char *name)
{
	if (!*name || strlen(name) > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* Directory of the running executable, "" if unknown. */
static void exe_dir(char *out, size_t len)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	out[0] = '\0';
	if (n <= 0)
		return;
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (slash) {
		*slash = '\0';
		snprintf(out, len, "%s", buf);
	}
}

/* Fills dirs[] with the candidate directories, returns their count. */
static int search_dirs(const char *name, const char *override, char dirs[][PATH_MAX])
{
	char exe[PATH_MAX];
	int n = 0;

	if (override && *override) {
		snprintf(dirs[n++], PATH_MAX, "%s", override);
		return n;
	}
	snprintf(dirs[n++], PATH_MAX, "%s/drivers", TR_PKGLIBDIR);
	exe_dir(exe, sizeof exe);
	if (*exe) {
		/* Build tree: src/totalrecall (or src/.libs/...) next to drivers/. */
		snprintf(dirs[n++], PATH_MAX, "%.3000s/../drivers/%s/.libs", exe, name);
		snprintf(dirs[n++], PATH_MAX, "%.3000s/../../drivers/%s/.libs", exe, name);
		/* Relocated install: bin/ next to lib/totalrecall/drivers. */
		snprintf(dirs[n++], PATH_MAX, "%.3000s/../lib/totalrecall/drivers", exe);
	}
	return n;
}

/* Checks the table of a driver built for this version. */
static int check_v2(const tr_driver *drv, const char *name, const char *path, char *err, size_t errlen)
{
	if (drv->struct_size < TR_DRIVER_SIZE_V2 || !drv->open || !drv->close || !drv->errmsg || !drv->caps ||
	    !drv->put || !drv->get || !drv->head || !drv->list || !drv->remove) {
		snprintf(err, errlen, "driver \"%s\" (%s): incomplete function table", name, path);
		return -1;
	}
	return 0;
}

/* Takes the table the entry point returned: version 2 as it is, version 1
 * adapted, anything else refused. */
static int check_abi(const tr_driver *drv, const char *name, const char *path, tr_loaded_driver *out,
		     char *err, size_t errlen)
{
	if (!drv) {
		snprintf(err, errlen, "driver \"%s\" (%s): %s() returned NULL", name, path, TR_DRIVER_ENTRY);
		return -1;
	}
	int rc;
	if (drv->abi_version == TR_DRIVER_ABI_VERSION) {
		rc = check_v2(drv, name, path, err, errlen);
		out->drv = drv;
	} else if (drv->abi_version == 1) {
		rc = tr_driver_v1_adapt(drv, name, path, &out->adapted, err, errlen);
		out->v1 = drv;
		out->drv = &out->adapted;
	} else {
		snprintf(err, errlen, "driver \"%s\" (%s): built for driver ABI version %d; this totalrecall loads "
			 "versions 1 and %d: rebuild the driver against this totalrecall's driver.h", name, path,
			 drv->abi_version, TR_DRIVER_ABI_VERSION);
		return -1;
	}
	if (rc != 0)
		return rc;
	out->abi_version = drv->abi_version;
	if (!out->drv->name || strcmp(out->drv->name, name) != 0) {
		snprintf(err, errlen, "driver \"%s\" (%s): file declares itself as \"%s\"",
			 name, path, out->drv->name ? out->drv->name : "(null)");
		return -1;
	}
	return 0;
}

/* Opens path and resolves the entry symbol; 1 if the file is absent. */
static int try_load(const char *name, const char *path, tr_loaded_driver *out,
		    char *err, size_t errlen)
{
	if (access(path, F_OK) != 0)
		return 1;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "driver \"%s\": cannot load %s: %s", name, path, dlerror());
		return -1;
	}
	tr_driver_entry_fn entry;
	*(void **)&entry = dlsym(h, TR_DRIVER_ENTRY);
	if (!entry) {
		snprintf(err, errlen, "driver \"%s\": %s has no symbol %s", name, path, TR_DRIVER_ENTRY);
		dlclose(h);
		return -1;
	}
	if (check_abi(entry(), name, path, out, err, errlen) != 0) {
		dlclose(h);
		memset(out, 0, sizeof *out);
		return -1;
	}
	out->handle = h;
	snprintf(out->path, sizeof out->path, "%s", path);
	return 0;
}

int tr_driver_load(const char *name, const char *dir_override,
		   tr_loaded_driver *out, char *err, size_t errlen)
{
	char dirs[5][PATH_MAX];
	char path[PATH_MAX + 80];

	memset(out, 0, sizeof *out);
	if (!name || !driver_name_ok(name)) {
		snprintf(err, errlen, "driver name \"%s\" is not valid (letters, digits, '-' and '_')",
			 name ? name : "");
		return -1;
	}
	int n = search_dirs(name, dir_override, dirs);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s.so", dirs[i], name);
		int rc = try_load(name, path, out, err, errlen);
		if (rc <= 0)
			return rc;
	}
	size_t used = (size_t)snprintf(err, errlen, "driver \"%s\" not found (searched", name);
	for (int i = 0; i < n && used < errlen; i++)
		used += (size_t)snprintf(err + used, errlen - used, "%s %s", i ? "," : "", dirs[i]);
	if (used < errlen)
		snprintf(err + used, errlen - used, ")");
	return -1;
}

void tr_driver_unload(tr_loaded_driver *ld)
{
	if (ld && ld->handle)
		dlclose(ld->handle);
	if (ld)
		memset(ld, 0, sizeof *ld);
}

int tr_driver_open(const tr_loaded_driver *ld, const tr_driver_env *env, tr_conn **out)
{
	if (ld->v1)
		return tr_driver_v1_open(ld->v1, env, out);
	return ld->drv->open(env, out);
}

tr_driver_env tr_driver_env_make(tr_setting_fn setting, tr_log_fn log, void *ctx)
{
	tr_driver_env env = { sizeof env, TR_DRIVER_ABI_VERSION, setting, log, ctx };
	return env;
}
