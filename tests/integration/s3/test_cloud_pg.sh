#!/usr/bin/env bash
# tests/integration/s3/test_cloud_pg.sh - PostgreSQL 15 archiving, a
# backup, `totalrecall check` and a restore through the s3 driver with
# credentials from web identity (EKS IRSA) that live seconds, not hours:
# STS (fakeaws.py) says they expire in 306 s, the signature-checking S3
# stand-in in front of moto refuses them after 15 s, and the driver
# refreshes them 300 s before they say they expire.  Every archive-put,
# the backup and the restore's archive-get keep going across many
# credential lifetimes, sharing the cache in state-dir.  With SSE-C and
# storage classes (WAL STANDARD, everything else STANDARD_IA), checked on
# what moto stored.  check prints the driver's describe() line.
# Last line: "cloud_pg: N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/bt_common.sh
. "$here/bt_common.sh"

tr_init cloud_pg
pg_bin >/dev/null || tr_die "PostgreSQL 15 not found"
: "${TR_CMD_TIMEOUT:=180}"

section "moto_server and fakeaws"
tr_moto_start || tr_die "moto_server did not come up"
ROLE=arn:aws:iam::123456789012:role/pg-backup
TOKEN_FILE=$(pg_scratch token)/token
printf 'eyJ.irsa-token-%s.sig\n' "$RANDOM$RANDOM" | as_pg tee "$TOKEN_FILE" >/dev/null
python3 "$here/s3/fakeaws.py" --upstream "127.0.0.1:$MOTO_PORT" --s3 127.0.0.1:0 --sts 127.0.0.1:0 \
	--role-arn "$ROLE" --webid-token-file "$TOKEN_FILE" --ready-file "$TR_TMP/root/fake.ready" \
	2>"$TR_TMP/root/fake.log" &
TR_BG_PIDS+=($!)
wait_until 30 test -e "$TR_TMP/root/fake.ready" || tr_die "fakeaws did not come up: $(tail -n 5 "$TR_TMP/root/fake.log")"
FAKE_URL=http://127.0.0.1:$(sed -n 's/^s3 //p' "$TR_TMP/root/fake.ready")
STS_PORT=$(sed -n 's/^sts //p' "$TR_TMP/root/fake.ready")
fake_q() {
	curl -sf "$FAKE_URL/_fake/state" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
curl -sf -X POST --data-binary '{"lifetime": 306, "valid_for": 15}' "$FAKE_URL/_fake/config" >/dev/null
BUCKET=cloud-bucket
setup "moto, fakeaws (STS, verifying S3 proxy) and bucket $BUCKET" curl -sf -o /dev/null -X PUT "$MOTO_URL/$BUCKET"

SSEC_KEY=$(head -c 32 /dev/urandom | base64)
DBID=db-cloud
tr_write_keyfile "the cloud passphrase $RANDOM"
tr_env_set TOTALRECALL_DRIVER=s3 "TOTALRECALL_BUCKET=$BUCKET" TOTALRECALL_STORAGE_PREFIX=k8s \
	"TOTALRECALL_DATABASE_ID=$DBID" "TOTALRECALL_ENCRYPTION_KEY=file:$KEYFILE" TOTALRECALL_KDF_ITERATIONS=1000 \
	"TOTALRECALL_S3_ENDPOINT=$FAKE_URL" TOTALRECALL_S3_URI_STYLE=path AWS_REGION=eu-west-1 \
	"AWS_WEB_IDENTITY_TOKEN_FILE=$TOKEN_FILE" "AWS_ROLE_ARN=$ROLE" "AWS_ENDPOINT_URL_STS=http://127.0.0.1:$STS_PORT" \
	AWS_EC2_METADATA_DISABLED=true "TOTALRECALL_S3_SSE_CUSTOMER_KEY=$SSEC_KEY" \
	TOTALRECALL_S3_STORAGE_CLASS=STANDARD_IA TOTALRECALL_S3_WAL_STORAGE_CLASS=STANDARD \
	"TOTALRECALL_STATE_DIR=$TR_TMP/state" TOTALRECALL_LOG_LEVEL=info TOTALRECALL_PARALLEL=2 TOTALRECALL_RETRIES=3
ARCHIVE_CONF=("wal_level = replica" "archive_mode = on" "archive_command = '$TR_BIN archive-put %p'"
	"checkpoint_timeout = '1h'" "max_wal_size = '4GB'" "autovacuum = off")

# moto_class KEY: the storage class moto stored KEY with.
moto_class() {
	python3 - "$MOTO_URL" "$BUCKET" "$1" <<'PY'
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="x",
                  aws_secret_access_key="y", config=Config(s3={"addressing_style": "path"}))
print(s3.head_object(Bucket=sys.argv[2], Key=sys.argv[3]).get("StorageClass", "STANDARD"))
PY
}
moto_keys() {
	python3 - "$MOTO_URL" "$BUCKET" "$1" <<'PY'
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="x",
                  aws_secret_access_key="y", config=Config(s3={"addressing_style": "path"}))
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):
    for o in page.get("Contents", []):
        print(o["Key"])
PY
}

section "archiving and a backup across credential lifetimes"
t0=$SECONDS
archive_and_backup() {
	local seg
	pg_start_cluster p1 "${ARCHIVE_CONF[@]}" || tr_die "cannot start p1"
	pg_cmd p1 pgbench -i -q -s 3 >"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench -i failed"
	seg=$(pg_switch p1)
	check "p1 archives through web-identity credentials (up to $seg)" pg_wait_archived p1 "$seg" 120
	do_backup p1
	check "the backup is listed ($LAST_LABEL)" test -n "$LAST_LABEL"
	pg_cmd p1 pgbench -n -c 2 -j 2 -T 12 >>"$TR_TMP/root/pgbench.log" 2>&1 || tr_die "pgbench failed"
	FINAL_STATE=$(psql_state p1)
	seg=$(pg_switch p1)
	check "p1 archives on after more than one credential lifetime (up to $seg)" pg_wait_archived p1 "$seg" 120
}
archive_and_backup
span=$((SECONDS - t0))
issued=$(fake_q 'd["issued"]["sts"]')
tr_note "archiving and backup took $span s; STS issued $issued credentials; the backup logged $(grep -c 'new credentials from web-identity' "$TR_TMP/root/backup-$LAST_BACKUP_END.err" || true) refresh(es)"
setup "the work spanned more than one credential lifetime ($span s > 15 s)" test "$span" -gt 15
check "STS was asked again as credentials aged ($issued times)" test "$issued" -ge 2
assert_eq 0 "$(fake_q 'sum(1 for e in d["log"] if e["refused"] == "ExpiredToken")')" \
	"no request was signed with credentials past their life (refreshed beforehand)"
assert_eq 0 "$(fake_q 'sum(1 for e in d["log"] if e["refused"])')" "the S3 stand-in refused nothing"
check "the credentials cache in state-dir is the server user's, mode 0600" \
	test "$(stat -c '%U %a' "$TR_TMP"/state/s3-credentials-web-identity-*)" = "$TR_SRV_USER 600"

section "check prints the storage line"
TR_DESC="check" assert_rc 0 tr_on p1 check
line=$(grep 'check: storage:' "$TR_LAST_ERR" || true)
tr_note "$line"
assert_contains "$line" "credentials: web-identity (role $ROLE" "check names the credential source and the role"
assert_contains "$line" "encryption: SSE-C (customer-provided key)" "check names the encryption"
assert_contains "$line" "storage class: STANDARD_IA, WAL STANDARD" "check names the storage classes"
assert_contains "$line" "checksum: x-amz-checksum-sha256" "check names the checksum"
assert_not_contains "$(cat "$TR_LAST_ERR")" "$SSEC_KEY" "check does not print the SSE-C key"

section "what moto stored"
wal_key=$(moto_keys "k8s/$DBID/wal/" | grep -E '/[0-9A-F]{24}$' | sed -n 1p)
chunk_key=$(moto_keys "k8s/$DBID/chunks/" | sed -n 1p)
assert_eq STANDARD "$(moto_class "$wal_key")" "WAL is stored STANDARD ($wal_key)"
assert_eq STANDARD_IA "$(moto_class "$chunk_key")" "chunks are stored STANDARD_IA ($chunk_key)"
assert_eq STANDARD_IA "$(moto_class "k8s/$DBID/backups/$LAST_LABEL/manifest")" "the manifest is stored STANDARD_IA"
assert_eq 0 "$(fake_q 'sum(1 for e in d["log"] if e["method"] in ("PUT", "GET", "HEAD") and "/k8s/" in e["path"] and "?" not in e["path"] and not e["headers"].get("x-amz-server-side-encryption-customer-key-md5"))')" \
	"every object request carried the SSE-C key"

section "restore across credential lifetimes"
restore_to r1
if start_restored r1; then
	check "r1 left recovery (WAL through archive-get, SSE-C, web identity)" wait_until 180 pg_not_in_recovery r1
	assert_eq "$FINAL_STATE" "$(psql_state r1 || true)" "r1: pgbench_accounts = p1's final state"
fi
drop_cluster r1
assert_eq 0 "$(fake_q 'sum(1 for e in d["log"] if e["refused"] == "ExpiredToken")')" "still no expired credentials used"
TR_DESC="verify --full" assert_rc 0 tr_run --full verify
assert_not_contains "$(cat "${PG_LOG[p1]}")" "$SSEC_KEY" "the server log does not contain the SSE-C key"
assert_not_contains "$(cat "${PG_LOG[p1]}")" "irsa-token" "the server log does not contain the web identity token"
drop_cluster p1
tr_note "total: ${SECONDS}s"
finish
