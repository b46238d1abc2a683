/*
 * restore_tree.h - what a restore creates, so that it writes only inside
 * its target (and the link targets the user named) and a failed restore
 * removes exactly what it created.
 *
 * The target directory is locked: <target>/totalrecall_restore.lock,
 * created exclusively and held with flock() for the whole run, so two
 * restores into one directory cannot interleave; a lock file nobody holds
 * is the mark of an interrupted restore.  The directory must be empty but
 * for the lock once it is held.
 *
 * Directories, links, link targets and the files written beside the
 * manifest's (backup_label, recovery.signal, ...) are recorded as they are
 * made.  Files from the manifest are not (there may be millions): undo
 * reads the manifest again up to the last entry laid out.  Undo removes
 * with unlinkat() below directories opened with O_NOFOLLOW, so it never
 * follows a link; it reaches a link's target only through the descriptor
 * it opened when it created that link.
 */
#ifndef TR_RESTORE_TREE_H
#define TR_RESTORE_TREE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define TR_RESTORE_LOCK "totalrecall_restore.lock"

typedef struct tr_rlink {
	char *rel;            /* the link in the data directory ("pg_tblspc/16385", "pg_wal") */
	char *target;         /* what it points to, as written in the link */
	int is_file;
	int created_target;   /* the target (directory or file) did not exist before this run */
	int fd;               /* the target directory, or a file target's directory; -1 if none */
} tr_rlink;

typedef struct tr_rtree {
	char *root;           /* the data directory, resolved */
	int root_created;
	int rootfd, lockfd;
	uid_t uid;            /* owner of everything created, (uid_t)-1: the process's */
	gid_t gid;
	tr_rlink *links;
	int nlinks;
	char **dirs;          /* directories created, relative to root, in creation order */
	int ndirs;
	char **extras;        /* files written beside the manifest's, relative to root */
	int nextras;
	uint64_t entries;     /* manifest entries laid out completely */
	int keep_lock;        /* --delta changed the directory: the lock file stays as the mark of an
			       * unfinished restore (see restore_delta.h) */
} tr_rtree;

/* As root, a restore must not leave files PostgreSQL refuses to run on:
 * everything is then owned by the target directory's owner, who must not
 * be root (*uid, *gid); as anyone else, by the process ((uid_t)-1). */
int tr_rtree_owner(const char *root, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/* -1 with err if root holds a restore's lock file (one running, or one
 * that was interrupted); checked before anything else, it says which. */
int tr_rtree_check_lock(const char *root, char *err, size_t errlen);
/* Creates root if absent, takes its lock, checks it is empty. */
int tr_rtree_open(tr_rtree *t, const char *root, uid_t uid, gid_t gid, char *err, size_t errlen);
/* --delta: root must exist; takes its lock, also over the lock file of an
 * interrupted restore (the run that finishes it); nothing else is checked
 * here (restore_delta.h). */
int tr_rtree_open_existing(tr_rtree *t, const char *root, uid_t uid, gid_t gid, char *err, size_t errlen);
/* --delta: records the link root/rel, which exists and points to target,
 * as if this run had made it (never removed by undo). */
int tr_rtree_adopt_link(tr_rtree *t, const char *rel, const char *target, int is_file, char *err, size_t errlen);
/* mkdir root/rel (an existing directory is accepted and not recorded). */
int tr_rtree_mkdir(tr_rtree *t, const char *rel, mode_t mode, char *err, size_t errlen);
/* A link root/rel to the directory target, which must be empty or absent
 * (then created), and neither inside root nor containing it. */
int tr_rtree_link_dir(tr_rtree *t, const char *rel, const char *target, char *err, size_t errlen);
/* A link root/rel to the file target, created here (it must not exist). */
int tr_rtree_link_file(tr_rtree *t, const char *rel, const char *target, mode_t mode, char *err, size_t errlen);
/* The link recorded for rel, or NULL. */
const tr_rlink *tr_rtree_link_of(const tr_rtree *t, const char *rel);
/* Gives an open file this run created to the owner. */
void tr_rtree_own_fd(const tr_rtree *t, int fd);
/* Records that root/name (not from the manifest) is about to be written:
 * removed by undo if it does not exist now. */
int tr_rtree_note_file(tr_rtree *t, const char *name);
/* Removes what this run created (mf: the manifest, read again up to
 * t->entries; NULL if none was laid out). */
void tr_rtree_undo(tr_rtree *t, FILE *mf);
/* Releases the lock (removing its file unless keep_lock) and frees. */
void tr_rtree_close(tr_rtree *t);

#endif
