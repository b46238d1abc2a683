#!/usr/bin/env bash
# Real WAL from PostgreSQL 15 archived through the s3 and minio drivers to
# an S3 server (moto_server) on 127.0.0.1, read back byte for byte, and the
# repository layout as the AWS CLI lists it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
tr_init wal-s3

AWS=${AWS:-/usr/bin/aws}
KEY_ID=AKIDTOTALRECALLTEST
SECRET=totalrecall-test-secret
BUCKET=wal-bucket
aws_s3() {
	AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1 \
		AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		"$AWS" --endpoint-url "$MOTO_URL" "$@"
}

setup "moto_server listens" tr_moto_start
make_bucket() { aws_s3 s3api create-bucket --bucket "$BUCKET" >/dev/null; }
setup "bucket $BUCKET created" make_bucket

as_pg sh -c "printf '%s' 'correct horse battery staple' > '$TR_TMP/home/key'; chmod 600 '$TR_TMP/home/key'"
tr_env_set "TOTALRECALL_BUCKET=$BUCKET" "TOTALRECALL_ENCRYPTION_KEY=file:$TR_TMP/home/key" \
	"TOTALRECALL_STATE_DIR=$TR_TMP/state" "TOTALRECALL_KDF_ITERATIONS=1000" \
	"TOTALRECALL_STORAGE_PREFIX=pfx" "TOTALRECALL_S3_ENDPOINT=$MOTO_URL" \
	"AWS_ACCESS_KEY_ID=$KEY_ID" "AWS_SECRET_ACCESS_KEY=$SECRET" "AWS_REGION=us-east-1"

# One cluster per driver, each with its own database id.
for driver in s3 minio; do
	db=walcheck-$driver
	extra=()
	[ "$driver" = s3 ] && extra=(TOTALRECALL_S3_URI_STYLE=path)
	setup "$driver: cluster initialised" pg_init_cluster "$driver"
	pg_conf "$driver" "archive_mode = on" "archive_command = '$TR_BIN archive-put %p'" "wal_keep_size = 1GB"
	setup "$driver: cluster started, archiving through the $driver driver" \
		pg_start "$driver" "TOTALRECALL_DRIVER=$driver" "TOTALRECALL_DATABASE_ID=$db" "${extra[@]}"
	pg_cmd "$driver" pgbench -i -s 2 -q >/dev/null 2>&1 || tr_die "pgbench -i failed"
	pg_cmd "$driver" pgbench -t 300 -c 2 >/dev/null 2>&1 || tr_die "pgbench failed"
	last=""
	for _ in 1 2 3; do
		psql_q "$driver" "INSERT INTO pgbench_history SELECT * FROM pgbench_history LIMIT 500" >/dev/null
		last=$(pg_switch "$driver")
	done
	check "$driver: PostgreSQL archived up to $last through the driver" pg_wait_archived "$driver" "$last" 180

	mapfile -t done_files < <(cd "${PG_DATA[$driver]}/pg_wal/archive_status" && ls ./*.done | sed 's|^\./||; s|\.done$||')
	check "$driver: PostgreSQL marked files .done" test "${#done_files[@]}" -ge 4
	listing=$(aws_s3 s3api list-objects-v2 --bucket "$BUCKET" --prefix "pfx/$db/" --query 'Contents[].Key' --output text)
	assert_contains "$listing" "pfx/$db/keyring" "$driver: the AWS CLI lists the keyring at pfx/$db/keyring"
	out=$TR_TMP/root/get-$driver
	mkdir -p "$out"
	chown "$TR_SRV_USER" "$out"
	same=0 present=0
	for f in "${done_files[@]}"; do
		case $f in *.history) key="pfx/$db/wal/$f" ;; *) key="pfx/$db/wal/${f:0:16}/$f" ;; esac
		grep -qw -- "$key" <<<"$listing" && present=$((present + 1))
		if tr_run "TOTALRECALL_DRIVER=$driver" "TOTALRECALL_DATABASE_ID=$db" "${extra[@]}" \
			archive-get "$out/$f" "$f" 2>/dev/null && cmp -s "$out/$f" "${PG_DATA[$driver]}/pg_wal/$f"; then
			same=$((same + 1))
		fi
	done
	assert_eq "${#done_files[@]}" "$present" "$driver: every .done file is listed by the AWS CLI at wal/<16 hex>/<name>"
	assert_eq "${#done_files[@]}" "$same" "$driver: archive-get returns every .done file byte-identical"
	assert_rc 1 tr_run "TOTALRECALL_DRIVER=$driver" "TOTALRECALL_DATABASE_ID=$db" "${extra[@]}" \
		archive-get "$out/absent" 0000000100000000000000FF
	assert_file_absent "$out/absent" "$driver: nothing written for an absent segment"
	# Archiving the same file again is a success; a different one is refused.
	seg=${done_files[-1]}
	cp "${PG_DATA[$driver]}/pg_wal/$seg" "$TR_TMP/home/$seg"
	chown "$TR_SRV_USER" "$TR_TMP/home/$seg"
	assert_rc 0 in_dir "$TR_TMP/home" tr_run "TOTALRECALL_DRIVER=$driver" "TOTALRECALL_DATABASE_ID=$db" \
		"${extra[@]}" archive-put "$seg"
	flip_byte "$TR_TMP/home/$seg" 100
	assert_rc 1 in_dir "$TR_TMP/home" tr_run "TOTALRECALL_DRIVER=$driver" "TOTALRECALL_DATABASE_ID=$db" \
		"${extra[@]}" archive-put "$seg"
	assert_contains "$(cat "$TR_LAST_ERR")" "DIFFERENT content" "$driver: the refusal says why"
	assert_rc 0 tr_run "TOTALRECALL_DRIVER=$driver" "TOTALRECALL_DATABASE_ID=$db" "${extra[@]}" \
		archive-get "$out/again" "$seg"
	assert_same_file "$out/again" "${PG_DATA[$driver]}/pg_wal/$seg" \
		"$driver: the stored segment is unchanged after the refused archive-put"
	pg_stop_cluster "$driver"
done

# The secret never appears in what the server logged.
for driver in s3 minio; do
	assert_not_contains "$(cat "${PG_LOG[$driver]}")" "$SECRET" "$driver: no secret in the server log"
done
finish
