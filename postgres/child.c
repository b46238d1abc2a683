/*
 * child.c - runs the totalrecall binary as a child of the worker.
 *
 * The child must not inherit anything of the backend but its stderr (the
 * server log): signal dispositions and mask are reset (a backend blocks and
 * catches signals the command expects to be default), every other
 * descriptor is closed (sockets, the postmaster death pipe, data files),
 * and stdin is /dev/null.
 *
 * The child stays in the worker's process group on purpose: the postmaster
 * signals a backend's whole group (SIGTERM on fast shutdown, SIGQUIT on
 * immediate shutdown and crash restarts), so the command stops together
 * with the server even if the worker cannot act.  The worker also stops it
 * itself on SIGTERM and postmaster death: SIGTERM, then SIGKILL after
 * CHILD_GRACE_MS.
 *
 * Environment: the server's own, plus where to find the cluster, so that
 * the command finds the data directory, the spool and a connection back:
 * TOTALRECALL_PGDATA, TOTALRECALL_SPOOL_DIR, PGHOST (the first Unix socket
 * directory, else localhost), PGPORT, PGDATABASE (totalrecall.database)
 * and PGUSER (the bootstrap superuser, whom the worker runs as).  This
 * works with local trust or peer authentication, as the server's OS user
 * is normally the bootstrap superuser's name; any other method needs the
 * usual libpq means (a ~/.pgpass or PGPASSFILE of the server's OS user).
 */
#include "worker.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#define CHILD_POLL_MS 200
#define CHILD_GRACE_MS 5000

extern char **environ;

char *tr_child_user;

static const char *const overridden[] = {
	"TOTALRECALL_PGDATA=", "TOTALRECALL_SPOOL_DIR=", "PGHOST=", "PGPORT=", "PGDATABASE=", "PGUSER=",
};

static bool is_overridden(const char *entry)
{
	for (size_t i = 0; i < lengthof(overridden); i++)
		if (strncmp(entry, overridden[i], strlen(overridden[i])) == 0)
			return true;
	return false;
}

/* The first directory of unix_socket_directories, or NULL if none. */
static char *first_socket_dir(void)
{
	char *copy;
	List *dirs = NIL;

	if (Unix_socket_directories == NULL || Unix_socket_directories[0] == '\0')
		return NULL;
	copy = pstrdup(Unix_socket_directories);
	if (!SplitDirectoriesString(copy, ',', &dirs) || dirs == NIL)
		return NULL;
	return (char *) linitial(dirs);
}

/* Built before fork(): after it, the child may only make async-signal-safe
 * calls, which excludes palloc. */
static char **child_environment(const char *spool_dir)
{
	char *host = first_socket_dir();
	int n = 0, i = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = palloc0(sizeof(char *) * (n + lengthof(overridden) + 1));
	for (int k = 0; k < n; k++)
		if (!is_overridden(environ[k]))
			env[i++] = environ[k];
	env[i++] = psprintf("TOTALRECALL_PGDATA=%s", DataDir);
	env[i++] = psprintf("TOTALRECALL_SPOOL_DIR=%s", spool_dir);
	env[i++] = psprintf("PGHOST=%s", host ? host : "localhost");
	env[i++] = psprintf("PGPORT=%d", PostPortNumber);
	env[i++] = psprintf("PGDATABASE=%s", tr_database);
	env[i++] = psprintf("PGUSER=%s", tr_child_user);
	env[i] = NULL;
	return env;
}

static void close_descriptors_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned int) lowfd, ~0U, 0) == 0)
		return;
#endif
	for (long fd = lowfd, max = sysconf(_SC_OPEN_MAX); fd < (max > 0 ? max : 1024); fd++)
		close((int) fd);
}

static void child_fail(const char *what)
{
	static const char prefix[] = "totalrecall worker: child: ";

	(void) !write(STDERR_FILENO, prefix, sizeof prefix - 1);
	(void) !write(STDERR_FILENO, what, strlen(what));
	(void) !write(STDERR_FILENO, "\n", 1);
	_exit(127);
}

/* In the child, between fork() and exec: async-signal-safe calls only. */
static void exec_child(char **argv, char **envp)
{
	struct sigaction dfl;
	sigset_t none;
	int devnull;

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int s = 1; s < NSIG; s++)
		(void) sigaction(s, &dfl, NULL);  /* fails harmlessly for SIGKILL, SIGSTOP */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		child_fail("cannot set up stdin and stdout");
	close_descriptors_from(STDERR_FILENO + 1);
	if (chdir(DataDir) != 0)
		child_fail("cannot change to the data directory");
	execve(argv[0], argv, envp);
	child_fail("cannot execute the totalrecall binary (totalrecall.binary)");
}

/* Polls for the child's exit for at most ms milliseconds. */
static bool reaped_within(pid_t pid, int *status, long ms)
{
	for (long waited = 0;; waited += 50) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		if (waited >= ms)
			return false;
		pg_usleep(50 * 1000L);
	}
}

static void terminate_child(pid_t pid)
{
	int status;

	ereport(LOG, (errmsg("totalrecall: stopping child process %d", (int) pid)));
	kill(pid, SIGTERM);
	if (reaped_within(pid, &status, CHILD_GRACE_MS))
		return;
	ereport(WARNING, (errmsg("totalrecall: child process %d ignored SIGTERM; killing it", (int) pid)));
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* Waits for the child, handling the worker's own signals meanwhile. */
static int wait_child(pid_t pid)
{
	for (;;) {
		int status, rc;
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR) {
			ereport(WARNING, (errmsg("totalrecall: waitpid(%d) failed: %m", (int) pid)));
			return -1;
		}
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_POSTMASTER_DEATH, CHILD_POLL_MS,
		               PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (rc & WL_POSTMASTER_DEATH) {
			terminate_child(pid);
			proc_exit(1);
		}
		if (tr_got_sigterm) {
			terminate_child(pid);
			proc_exit(1);
		}
		tr_reload_if_requested();
		CHECK_FOR_INTERRUPTS();
	}
}

int tr_run_child(const char *const *args, const char *spool_dir)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "totalrecall child",
	                                          ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	char **argv, **envp;
	int n = 0, status;
	sigset_t all, saved;
	pid_t pid;

	while (args[n] != NULL)
		n++;
	argv = palloc0(sizeof(char *) * (n + 2));
	argv[0] = pstrdup(tr_binary);
	for (int i = 0; i < n; i++)
		argv[i + 1] = pstrdup(args[i]);
	envp = child_environment(spool_dir);
	/* Nothing buffered may be written twice, by both processes. */
	fflush(stdout);
	fflush(stderr);
	/* Until the child has reset its handlers, a signal would run the
	 * worker's handlers in it: block everything across the fork. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &saved);
	pid = fork();
	if (pid == 0)
		exec_child(argv, envp);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	if (pid < 0) {
		ereport(WARNING, (errmsg("totalrecall: could not fork: %m")));
		return -1;
	}
	pgstat_report_activity(STATE_RUNNING, "totalrecall: running a command");
	status = wait_child(pid);
	pgstat_report_activity(STATE_IDLE, NULL);
	return status;
}
