#!/usr/bin/env bash
# test_bad_input.sh - a tour of bad input: each case is a command, its
# environment and arguments, the exit status it must give and a fragment
# its message must contain; and no output may ever contain a secret value.
# Needs no PostgreSQL except for the backup case (a cluster is started).
set -euo pipefail
. "$(dirname "$0")/lib_verify.sh"
lv_init bad_input

PASSPHRASE='pass-Phrase-7f3a9c-never-print'
S3SECRET='aws-Secret-91bd0e-never-print'
LV_ENV=("${LV_ENV[@]/TOTALRECALL_ENCRYPTION_KEY=*/TOTALRECALL_ENCRYPTION_KEY=$PASSPHRASE}")
LV_ENV+=("AWS_SECRET_ACCESS_KEY=$S3SECRET" TOTALRECALL_LOG_LEVEL=debug)
# Hand-made WAL files go to their own repository: PostgreSQL's own files
# of the same names (db1, below) have other contents.
LV_ENV=("${LV_ENV[@]/TOTALRECALL_DATABASE_ID=db1/TOTALRECALL_DATABASE_ID=handmade}")
ALL_OUTPUT=$LV_TMP/all-output
: >"$ALL_OUTPUT"

# case_ DESC STATUS FRAGMENT [-VAR | VAR=value ...] -- ARGS...:
# runs totalrecall with the base environment less -VAR, plus VAR=value.
case_() {
	local desc=$1 want=$2 frag=$3
	shift 3
	local -a envv=("${LV_ENV[@]}")
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		if [[ $1 == -* ]]; then
			local name=${1#-} i
			for i in "${!envv[@]}"; do [[ ${envv[$i]} == "$name="* ]] && unset 'envv[i]'; done
		else
			envv+=("$1")
		fi
		shift
	done
	shift
	set +e
	as_user env -i PATH=/usr/bin:/bin "${envv[@]}" "$LV_BIN" "$@" >"$LV_TMP/out" 2>"$LV_TMP/err"
	RC=$?
	set -e
	OUT=$(cat "$LV_TMP/out") ERR=$(cat "$LV_TMP/err")
	printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL_OUTPUT"
	if [ "$RC" = "$want" ] && grep -qiF -- "$frag" <<<"$OUT$ERR"; then
		pass "$desc (exit $RC)"
	else
		fail "$desc: expected exit $want and '$frag', got exit $RC: ${OUT:0:200} ${ERR:0:400}"
	fi
}

# A repository with one WAL file, for the cases that need one.
# mkwal SEGMENT SEED [SIZE]: a file that passes archive-put's WAL check.
MKWAL=$(cd "$(dirname "$0")/../tools" && pwd)/mkwal.py
mkwal() { python3 "$MKWAL" "$1" "$LV_TMP/data/pg_wal/$1" --seed "$2" --size "${3:-1048576}" --random 65536; }
as_user mkdir -p "$LV_TMP/data/pg_wal"
mkwal 000000010000000000000001 1
chown -R "${LV_USER:-$(id -un)}" "$LV_TMP/data"
cd "$LV_TMP/data"
case_ "archive-put into a new repository" 0 "archive-put 000000010000000000000001" -- archive-put pg_wal/000000010000000000000001

# --- missing and malformed settings
case_ "missing bucket" 1 "TOTALRECALL_BUCKET" -TOTALRECALL_BUCKET -- list
case_ "missing database id" 1 "TOTALRECALL_DATABASE_ID" -TOTALRECALL_DATABASE_ID -- archive-put pg_wal/000000010000000000000001
case_ "missing encryption key (archive-get stops recovery)" 128 "TOTALRECALL_ENCRYPTION_KEY" -TOTALRECALL_ENCRYPTION_KEY -- \
	archive-get "$LV_TMP/x" 000000010000000000000001
case_ "database id with a slash" 1 "TOTALRECALL_DATABASE_ID" TOTALRECALL_DATABASE_ID=a/../b -- list
case_ "compress level out of range" 1 "TOTALRECALL_COMPRESS_LEVEL" TOTALRECALL_COMPRESS_LEVEL=99 -- list
case_ "unknown driver" 1 "nosuchdriver" TOTALRECALL_DRIVER=nosuchdriver -- list
case_ "encryption key from a missing file" 1 "cannot read" TOTALRECALL_ENCRYPTION_KEY=file:/nonexistent/key -- list
case_ "encryption key from an unset variable" 1 "TOTALRECALL_ENCRYPTION_KEY" TOTALRECALL_ENCRYPTION_KEY=env:TR_NO_SUCH_VAR -- list
case_ "missing config file" 1 "config file /nonexistent.conf" -- -c /nonexistent.conf list
printf 'bucket = /tmp\nno equals sign here\n' >"$LV_TMP/bad.conf" && chmod a+r "$LV_TMP/bad.conf"
case_ "malformed config file" 1 "bad.conf:2" -- -c "$LV_TMP/bad.conf" list
case_ "unknown command" 1 "unknown command" -- frobnicate
case_ "unknown option" 1 "unknown option" -- --frobnicate list
case_ "archive-put without a path" 1 "archive-put" -- archive-put
case_ "archive-get without arguments" 128 "archive-get" -- archive-get

# --- wrong key, wrong database id, missing bucket
case_ "wrong encryption key" 1 "does not match" TOTALRECALL_ENCRYPTION_KEY=wrong-passphrase \
	"TOTALRECALL_STATE_DIR=$LV_TMP/state-wrong" -- list
case_ "wrong encryption key on archive-get" 128 "does not match" TOTALRECALL_ENCRYPTION_KEY=wrong-passphrase \
	"TOTALRECALL_STATE_DIR=$LV_TMP/state-wrong" -- archive-get "$LV_TMP/x" 000000010000000000000001
case_ "wrong database id" 1 "no repository" TOTALRECALL_DATABASE_ID=otherdb -- list
case_ "wrong database id on archive-get" 128 "no repository" TOTALRECALL_DATABASE_ID=otherdb -- \
	archive-get "$LV_TMP/x" 000000010000000000000001
case_ "bucket (fs directory) not found" 1 "No such file or directory" TOTALRECALL_BUCKET=/nonexistent/bucket -- list
case_ "bucket not found on archive-get" 128 "/nonexistent/bucket" TOTALRECALL_BUCKET=/nonexistent/bucket -- \
	archive-get "$LV_TMP/x" 000000010000000000000001
case_ "archive-get of an absent file" 1 "000000010000000000000009" -- archive-get "$LV_TMP/x" 000000010000000000000009

# --- unreadable input, different content
head -c 1024 /dev/urandom >"$LV_TMP/data/pg_wal/000000010000000000000002"
chown "${LV_USER:-$(id -un)}" "$LV_TMP/data/pg_wal/000000010000000000000002"
chmod 000 "$LV_TMP/data/pg_wal/000000010000000000000002"
case_ "archive-put of an unreadable WAL file" 1 "Permission denied" -- archive-put pg_wal/000000010000000000000002
case_ "archive-put of a missing WAL file" 1 "No such file" -- archive-put pg_wal/000000010000000000000003
cp "$LV_TMP/data/pg_wal/000000010000000000000001" "$LV_TMP/orig"
mkwal 000000010000000000000001 2
case_ "archive-put of a different content under an archived name" 1 "000000010000000000000001" -- \
	archive-put pg_wal/000000010000000000000001
cp "$LV_TMP/orig" "$LV_TMP/data/pg_wal/000000010000000000000001"

# --- restore target, unreadable data directory (needs PostgreSQL)
LV_ENV=("${LV_ENV[@]/TOTALRECALL_DATABASE_ID=handmade/TOTALRECALL_DATABASE_ID=db1}")
lv_start_pg
psql_q "select 1" >/dev/null
pg_new_segment
tr_run backup
assert_rc 0 "a backup to restore"
as_user mkdir -p "$LV_TMP/notempty" && as_user touch "$LV_TMP/notempty/somefile"
case_ "restore into a non-empty directory" 1 "is not empty" -- restore "$LV_TMP/notempty"
if [ -f "$LV_TMP/notempty/somefile" ] && [ "$(ls "$LV_TMP/notempty" | wc -l)" = 1 ]; then
	pass "the non-empty directory is left as it was"
else
	fail "the non-empty directory was changed"
fi
# The data directory unreadable by the user running backup.
chmod 000 "$LV_PGDATA/base"
case_ "backup of an unreadable data directory" 1 "Permission denied" "TOTALRECALL_PG_CONNINFO=host=$LV_TMP/sock port=$LV_PORT user=postgres dbname=postgres" -- backup
chmod 700 "$LV_PGDATA/base"

# --- disk full: a 2 MiB tmpfs as the bucket
full=$LV_TMP/full
mkdir -p "$full"
if mount -t tmpfs -o size=2m,mode=0777 tmpfs "$full" 2>"$LV_TMP/mount.err"; then
	LV_MOUNT=$full
	trap 'umount "$LV_MOUNT" 2>/dev/null || true; finish' EXIT
	python3 "$MKWAL" 000000010000000000000004 "$LV_TMP/data/pg_wal/000000010000000000000004" --size 4194304 \
		--random 4194304
	chown "${LV_USER:-$(id -un)}" "$LV_TMP/data/pg_wal/000000010000000000000004"
	case_ "archive-put to a full disk" 1 "No space left" "TOTALRECALL_BUCKET=$full" -- \
		archive-put pg_wal/000000010000000000000004
	if [ -z "$(find "$full" -type f \( -name '00000001*' -o -name '.tr-tmp-*' \))" ]; then
		pass "a full disk leaves no partial object or temporary file"
	else
		fail "a full disk left: $(find "$full" -type f)"
	fi
	case_ "archive-get after the failed put: confirmed absent" 1 "000000010000000000000004" "TOTALRECALL_BUCKET=$full" -- \
		archive-get "$LV_TMP/x" 000000010000000000000004
	umount "$full"
	LV_MOUNT=""
	trap finish EXIT
else
	skip "disk-full case: mount -t tmpfs refused: $(cat "$LV_TMP/mount.err")"
fi

# --- S3 with a bad secret: needs the S3 test server harness (branch s3).
if [ -f "$(dirname "$0")/s3/lib_s3.sh" ]; then
	note "S3 harness present but not wired into this test yet: expired-credentials case not run"
else
	note "NOT RUN: expired S3 credentials (no tests/integration/s3/lib_s3.sh on this branch)"
fi

# --- no secret in any output
for secret in "$PASSPHRASE" "$S3SECRET" wrong-passphrase; do
	if grep -qF -- "$secret" "$ALL_OUTPUT" "$LV_TMP/server.log" 2>/dev/null; then
		fail "a secret value appears in the output: $(grep -F -- "$secret" "$ALL_OUTPUT" | head -3)"
	else
		pass "no output contains the secret ${secret:0:6}..."
	fi
done

finish
