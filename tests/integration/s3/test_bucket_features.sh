#!/bin/bash
# test_bucket_features.sh - what real buckets need from the s3 driver,
# checked on what moto_server stored and through fakeaws.py (the
# signature-checking S3 stand-in, which also plays what moto does not:
# SSE-C, requester pays, checksum verification, a skewed clock):
# server-side encryption (SSE-S3, SSE-KMS, SSE-C), storage classes for WAL
# and for the rest, an integrity checksum on every PUT and part (Object
# Lock buckets), requester pays, the User-Agent, clock-skew correction,
# the learned region of a redirected bucket, Content-Type of multipart
# uploads, partition endpoints; and through the totalrecall binary,
# settings from the environment reaching the driver (WAL storage class
# by the key prefix the core derives, SSE-C on archive-put/archive-get).
. "$(dirname "$0")/lib_s3.sh"

B=feat-bucket
ID=AKIDFEATURES
SECRET=features-Secret-Value
SSEC_KEY=$(head -c 32 /dev/urandom | base64)
OTHER_KEY=$(head -c 32 /dev/urandom | base64)
MiB=$((1024 * 1024))
ERR=$S3_TMP/err

setup "moto_server listens" start_moto
setup "fakeaws (signature-checking S3) listens" start_fake --static "$ID:$SECRET"
for b in "$B" pays-bucket region-bucket; do setup "bucket $b created" curl -sf -o /dev/null -X PUT "$MOTO_URL/$b"; done

# ft [drvtool options and command...]: the s3 driver through the fake.
ft() {
	env -i "${SAN_ENV[@]}" PATH="$PATH" HOME="$S3_TMP" AWS_EC2_METADATA_DISABLED=true "$DRVTOOL" -D s3 \
		-d "$top_builddir/drivers/s3/.libs" -o "bucket=$B" -o "endpoint=$FAKE_URL" -o s3-uri-style=path \
		-o "access-key-id=$ID" -o "secret-access-key=$SECRET" -o "state-dir=$S3_TMP/state" "$@"
}
# same_as_gen KEY SIZE SEED [options]: the object is drvtool's generated body.
same_as_gen() { test "$(ft "${@:4}" get "$1" 2>>"$ERR" | sha)" = "$("$DRVTOOL" gen "$2" --seed "$3" | sha)"; }
field() { moto_head "$B" "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
logq() { fake_q "$1"; }
no_key() { ! grep -qF -e "$SSEC_KEY" -e "$OTHER_KEY" -e "$SECRET" "$@"; }

sse() {
	ft -o s3-sse=AES256 put sse/one <<<"one" 2>"$ERR"
	ok $? "SSE-S3: put"
	ft -o s3-sse=AES256 -o s3-part-size=$((5 * MiB)) put sse/multi --gen $((11 * MiB)) 2>>"$ERR"
	ok $? "SSE-S3: multipart put"
	check "SSE-S3: moto stored AES256 (single PUT)" test "$(field sse/one sse)" = AES256
	check "SSE-S3: moto stored AES256 (multipart)" test "$(field sse/multi sse)" = AES256
	check "SSE-S3: the header only where S3 takes it (PutObject, CreateMultipartUpload)" test \
		"$(logq '",".join(sorted({e["method"] + ("?uploads" if "uploads" in e["path"] else "?part" if "partNumber" in e["path"] else "?complete" if "uploadId" in e["path"] else "") for e in d["log"] if e["headers"].get("x-amz-server-side-encryption")}))')" = "POST?uploads,PUT"
	ft -o s3-sse-kms-key-id=alias/totalrecall put sse/kms <<<"kms" 2>"$ERR"
	ok $? "SSE-KMS: put with a key id (implies aws:kms)"
	check "SSE-KMS: moto stored aws:kms" test "$(field sse/kms sse)" = aws:kms
	check "SSE-KMS: ... with the key" test "$(field sse/kms kms)" = alias/totalrecall
	check "SSE-KMS: describe says so" grep -q "encryption: SSE-KMS (key alias/totalrecall)" <(ft -o s3-sse-kms-key-id=alias/totalrecall describe)
	ft -o s3-sse=AES256 -o s3-sse-kms-key-id=alias/x list "" 2>"$ERR"
	check "SSE: a KMS key with AES256 is a settings error (exit 5)" test $? -eq 5
	ft -o s3-sse=aws:kms -o "s3-sse-customer-key=$SSEC_KEY" list "" 2>"$ERR"
	check "SSE: SSE-C with s3-sse is a settings error (exit 5)" test $? -eq 5
	check "SSE: ... without the key in the message" no_key "$ERR"
}

ssec() {
	local c=(-o "s3-sse-customer-key=$SSEC_KEY") err2="$S3_TMP/err2"
	ft "${c[@]}" put ssec/one <<<"secret one" 2>"$ERR"
	ok $? "SSE-C: put"
	ft "${c[@]}" -o s3-part-size=$((5 * MiB)) put ssec/multi --gen $((11 * MiB)) --checksum sha256:cc 2>>"$ERR"
	ok $? "SSE-C: multipart put (key on create, parts and complete)"
	check "SSE-C: get with the key" test "$(ft "${c[@]}" get ssec/one 2>>"$ERR")" = "secret one"
	check "SSE-C: multipart get with the key" same_as_gen ssec/multi $((11 * MiB)) 0 "${c[@]}"
	check "SSE-C: head with the key" grep -q "checksum=sha256:cc" <(ft "${c[@]}" head ssec/multi 2>>"$ERR")
	ft get ssec/one >/dev/null 2>"$err2"
	check "SSE-C: get without the key fails" test $? -ne 0
	check "SSE-C: ... as S3 says (400 InvalidRequest)" grep -q "400 InvalidRequest" "$err2"
	ft -o "s3-sse-customer-key=$OTHER_KEY" get ssec/one >/dev/null 2>>"$err2"
	check "SSE-C: get with another key is refused, not permitted (403 AccessDenied: TR_EPERM, exit 6)" test $? -eq 6
	ft head ssec/one >/dev/null 2>>"$err2"
	check "SSE-C: head without the key fails" test $? -ne 0
	check "SSE-C: describe says SSE-C" grep -q "encryption: SSE-C (customer-provided key)" <(ft "${c[@]}" describe)
	ft -o "s3-sse-customer-key=not-base64!" list "" 2>>"$err2"
	check "SSE-C: a malformed key is a settings error (exit 5)" test $? -eq 5
	ft -o "s3-sse-customer-key=$(head -c 16 /dev/urandom | base64)" list "" 2>>"$err2"
	check "SSE-C: a 16-byte key is refused" grep -q "must be the base64 encoding of 32 bytes" "$err2"
	ft -o endpoint=http://192.0.2.1:9000 "${c[@]}" list "" 2>>"$err2"
	check "SSE-C: plain http to another host is refused before any request" \
		grep -q "s3-sse-customer-key: needs an https endpoint" "$err2"
	check "SSE-C: no key in any message" no_key "$ERR" "$err2"
}

classes() {
	local c=(-o s3-storage-class=STANDARD_IA -o s3-wal-storage-class=GLACIER_IR -o wal-key-prefix=db1/wal/)
	ft "${c[@]}" put db1/wal/0000000100000000/000000010000000000000001 <<<"wal" 2>"$ERR"
	ok $? "storage class: put a WAL key"
	ft "${c[@]}" put db1/chunks/ab/cabcd <<<"chunk" 2>>"$ERR"
	ok $? "storage class: put a chunk"
	ft "${c[@]}" -o s3-part-size=$((5 * MiB)) put db1/wal/big --gen $((6 * MiB)) 2>>"$ERR"
	ok $? "storage class: multipart put under the WAL prefix"
	check "storage class: WAL object stored GLACIER_IR" test "$(field db1/wal/0000000100000000/000000010000000000000001 class)" = GLACIER_IR
	check "storage class: multipart WAL object stored GLACIER_IR" test "$(field db1/wal/big class)" = GLACIER_IR
	check "storage class: other object stored STANDARD_IA" test "$(field db1/chunks/ab/cabcd class)" = STANDARD_IA
	check "storage class: describe says both" grep -q "storage class: STANDARD_IA, WAL GLACIER_IR;" <(ft "${c[@]}" describe)
	ft -o s3-storage-class=GLACIER list "" 2>"$ERR"
	check "storage class: GLACIER is refused (exit 5)" test $? -eq 5
	check "storage class: ... saying why" grep -q "GLACIER objects cannot be read without a restore request" "$ERR"
	ft -o s3-wal-storage-class=DEEP_ARCHIVE list "" 2>"$ERR"
	check "storage class: DEEP_ARCHIVE is refused for WAL too" grep -q "setting s3-wal-storage-class: DEEP_ARCHIVE" "$ERR"
	ft -o s3-storage-class=standard list "" 2>"$ERR"
	check "storage class: a malformed name is refused" grep -q '"standard" is not a storage class' "$ERR"
}

checksums() {
	local body="checksummed body $RANDOM"
	fake_post clear-log
	ft put ck/one <<<"$body" 2>"$ERR"
	ok $? "checksum: put"
	check "checksum: moto kept x-amz-checksum-sha256 of the body" \
		test "$(field ck/one sha256)" = "$(printf '%s\n' "$body" | openssl dgst -sha256 -binary | base64)"
	ft -o s3-part-size=$((5 * MiB)) put ck/multi --gen $((12 * MiB)) 2>>"$ERR"
	ok $? "checksum: multipart put, every part verified by the stand-in"
	check "checksum: every part carried x-amz-checksum-sha256" \
		test "$(logq 'sum(1 for e in d["log"] if "partNumber" in e["path"] and e["headers"].get("x-amz-checksum-sha256") and e["status"] == 200)')" = 3
	check "checksum: CreateMultipartUpload asked for SHA256" \
		test "$(logq '[e["headers"].get("x-amz-checksum-algorithm") for e in d["log"] if "uploads" in e["path"]]')" = "['SHA256']"
	check "checksum: CompleteMultipartUpload gave each part's checksum, as S3 wants" \
		test "$(logq '[e["parts_checksummed"] for e in d["log"] if e.get("parts_checksummed") is not None]')" = "[3]"
	# The stand-in refuses a body that does not match its checksum...
	python3 - "$FAKE_URL" "$B" "$ID" "$SECRET" >"$S3_TMP/bad-digest" 2>&1 <<'PY'
import sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
url, bucket, kid, secret = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=kid,
                  aws_secret_access_key=secret, config=Config(s3={"addressing_style": "path"}))
try:
    s3.put_object(Bucket=bucket, Key="ck/wrong", Body=b"abc",
                  ChecksumSHA256="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    print("accepted")
except ClientError as e:
    print(e.response["Error"]["Code"])
PY
	setup "checksum: the stand-in refuses a wrong x-amz-checksum-sha256 (BadDigest)" grep -qx BadDigest "$S3_TMP/bad-digest"
	# ... so a body damaged on the way is sent again, never stored.
	setup "faultproxy (corrupting bodies) listens" start_faultproxy --upstream "${FAKE_URL#http://}" --seed 2 --rate 0.5 \
		--faults corrupt -v 2>"$S3_TMP/corrupt.log"
	fake_post clear-log
	ft -o "endpoint=$FAULT_URL" -o s3-part-size=$((5 * MiB)) -o retries=10 put ck/damaged \
		--gen $((11 * MiB)) --seed 9 2>"$ERR"
	ok $? "checksum: an upload whose bodies are damaged in transit succeeds by resending"
	check "checksum: ... the stand-in refused damaged parts (BadDigest)" test "$(logq 'sum(1 for e in d["log"] if e["refused"] == "BadDigest" and "partNumber" in e["path"])')" -ge 1
	check "checksum: ... the stored object is the right one" same_as_gen ck/damaged $((11 * MiB)) 9
	fake_post clear-log
	ft -o s3-checksum=md5 -o s3-part-size=$((5 * MiB)) put ck/md5 --gen $((6 * MiB)) 2>"$ERR"
	ok $? "checksum: s3-checksum=md5 multipart put"
	check "checksum: ... Content-MD5 on every part" \
		test "$(logq 'sum(1 for e in d["log"] if "partNumber" in e["path"] and e["headers"].get("content-md5"))')" = 2
	# Object Lock: the stand-in insists on a checksum on every body, parts too.
	fake_post config '{"require_checksum": true}'
	ft -o s3-part-size=$((5 * MiB)) put lock/multi --gen $((6 * MiB)) 2>"$ERR"
	ok $? "Object Lock (stand-in): multipart put with checksums accepted"
	ft -o s3-checksum=none -o s3-part-size=$((5 * MiB)) put lock/none --gen $((6 * MiB)) 2>"$ERR"
	check "Object Lock (stand-in): without checksums refused" test $? -ne 0
	check "Object Lock (stand-in): ... with S3's message" grep -q "400 InvalidRequest: Content-MD5 OR x-amz-checksum-" "$ERR"
	fake_post config '{"require_checksum": false}'
}

# moto checks Object Lock's rule itself on PutObject: a bucket with a
# default retention refuses a PUT that carries no integrity checksum.
object_lock() {
	local lb=lock-bucket
	lock_bucket() {
		aws_s3 "$MOTO_URL" x y s3api create-bucket --bucket "$lb" --object-lock-enabled-for-bucket >/dev/null &&
			aws_s3 "$MOTO_URL" x y s3api put-object-lock-configuration --bucket "$lb" --object-lock-configuration \
				'{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":1}}}'
	}
	setup "Object Lock (moto): bucket $lb with a default retention" lock_bucket
	ft -o "bucket=$lb" put locked/sha <<<"a" 2>"$ERR"
	ok $? "Object Lock (moto): put with x-amz-checksum-sha256 accepted"
	ft -o "bucket=$lb" -o s3-checksum=md5 put locked/md5 <<<"b" 2>>"$ERR"
	ok $? "Object Lock (moto): put with Content-MD5 accepted"
	ft -o "bucket=$lb" -o s3-checksum=none put locked/none <<<"c" 2>"$ERR"
	check "Object Lock (moto): put without a checksum refused" test $? -ne 0
	check "Object Lock (moto): ... by moto's rule" grep -q "Content-MD5 or x-amz-sdk-checksum-algorithm header required" "$ERR"
}

requester_pays() {
	local p=(-o bucket=pays-bucket)
	fake_post config '{"requester_pays": ["pays-bucket"]}'
	ft "${p[@]}" put rp/a <<<"a" 2>"$ERR"
	check "requester pays: without the setting refused, not permitted (403 AccessDenied: TR_EPERM, exit 6)" test $? -eq 6
	fake_post clear-log
	p+=(-o s3-requester-pays=true)
	ft "${p[@]}" put rp/a <<<"pay" 2>"$ERR" && ft "${p[@]}" -o s3-part-size=$((5 * MiB)) put rp/big --gen $((6 * MiB)) 2>>"$ERR"
	ok $? "requester pays: put and multipart put with the setting"
	check "requester pays: get" test "$(ft "${p[@]}" get rp/a 2>>"$ERR")" = pay
	check "requester pays: list" test "$(ft "${p[@]}" list rp/ 2>>"$ERR" | tr '\n' ' ')" = "rp/a rp/big "
	check "requester pays: head" ft "${p[@]}" head rp/a
	check "requester pays: rm" ft "${p[@]}" rm rp/a
	check "requester pays: every request carried x-amz-request-payer" \
		test "$(logq 'all(e["headers"].get("x-amz-request-payer") == "requester" and e["status"] // 100 == 2 for e in d["log"])')" = True
	check "requester pays: describe says so" grep -q "; requester pays" <(ft "${p[@]}" describe)
	fake_post config '{"requester_pays": []}'
}

user_agent() {
	check "User-Agent: every request names totalrecall and its version" \
		test "$(logq 'all(e["headers"].get("user-agent", "").startswith("totalrecall/0.") and "s3 driver" in e["headers"]["user-agent"] for e in d["log"] if e["key_id"])')" = True
	setup "User-Agent: ... some requests were logged" test "$(logq 'len(d["log"])')" -gt 0
}

skew() {
	fake_post config '{"skew": 7200}'
	fake_post clear-log
	ft put skew/a <<<"a" 2>"$ERR"
	ok $? "clock skew: a put with the clock 2 h behind the server's succeeds"
	check "clock skew: ... after one RequestTimeTooSkewed" \
		test "$(logq '[e["refused"] for e in d["log"]]')" = "['RequestTimeTooSkewed', None]"
	check "clock skew: ... saying how far off and what to do" grep -qE "clock is 7[12][0-9][0-9] s behind the server's .*fix the clock" "$ERR"
	fake_post clear-log
	ft head skew/a >/dev/null 2>"$ERR"
	ok $? "clock skew: a HEAD (no error body) is corrected from the Date header"
	check "clock skew: ... after one refusal" test "$(logq 'len(d["log"])')" = 2
	fake_post config '{"skew": -7200}'
	ft get skew/a >/dev/null 2>"$ERR"
	ok $? "clock skew: the clock 2 h ahead is corrected too"
	check "clock skew: ... saying ahead" grep -qE "clock is 7[12][0-9][0-9] s ahead of the server's" "$ERR"
	fake_post config '{"skew": 0}'
}

region_cache() {
	local st="$S3_TMP/st-region" r=(-o bucket=region-bucket)
	setup "faultproxy (bucket in eu-west-1) listens" start_faultproxy --upstream "127.0.0.1:$MOTO_PORT" --rate 0 \
		--bucket-region eu-west-1 -v 2>"$S3_TMP/region.log"
	ft "${r[@]}" -o "endpoint=$FAULT_URL" -o "state-dir=$st" put reg/a <<<"a" 2>"$ERR"
	ok $? "region: the first command follows the redirect"
	check "region: ... saying so" grep -q "the bucket is in region eu-west-1, following" "$ERR"
	local f
	f=$(ls "$st"/s3-region-* 2>/dev/null)
	check "region: learned region kept in state-dir" test "$(cat "$f" 2>/dev/null)" = eu-west-1
	check "region: ... mode 0600" test "$(stat -c %a "$f" 2>/dev/null)" = 600
	ft "${r[@]}" -o "endpoint=$FAULT_URL" -o "state-dir=$st" get reg/a >/dev/null 2>"$ERR"
	ok $? "region: the next command"
	check "region: ... starts in eu-west-1 (no redirect)" not_redirected
	check "region: one redirect over both commands" test "$(grep -c "refused (bucket in eu-west-1)" "$S3_TMP/region.log")" -eq 1
	check "region: describe shows the learned region" grep -q "bucket region-bucket in eu-west-1" \
		<(ft "${r[@]}" -o "endpoint=$FAULT_URL" -o "state-dir=$st" describe)
	check "region: a different region setting starts afresh" grep -q "bucket region-bucket in ap-south-1" \
		<(ft "${r[@]}" -o "endpoint=$FAULT_URL" -o "state-dir=$st" -o region=ap-south-1 describe)
}
not_redirected() { ! grep -q following "$ERR"; }

content_type() {
	check "Content-Type: a single PUT is application/octet-stream" test "$(field ck/one type)" = application/octet-stream
	check "Content-Type: a multipart upload is application/octet-stream (was application/xml)" \
		test "$(field ck/multi type)" = application/octet-stream
}

partitions() {
	check "partition: cn-north-1 at amazonaws.com.cn" grep -q "at https://s3.cn-north-1.amazonaws.com.cn, virtual-hosted" \
		<(ft -o endpoint= -o s3-uri-style=auto -o region=cn-north-1 describe)
	check "partition: GovCloud at s3.us-gov-west-1.amazonaws.com" grep -q "at https://s3.us-gov-west-1.amazonaws.com, virtual" \
		<(ft -o endpoint= -o s3-uri-style=auto -o region=us-gov-west-1 describe)
	check "partition: us-iso-east-1 at c2s.ic.gov" grep -q "at https://s3.us-iso-east-1.c2s.ic.gov," \
		<(ft -o endpoint= -o s3-uri-style=auto -o region=us-iso-east-1 describe)
	ft -o region='eu-west-1.evil.example/x' list "" 2>"$ERR"
	check "partition: a region that is not a region name is refused (exit 5)" test $? -eq 5
}

# Through the totalrecall binary: settings from the environment, the WAL
# key prefix the core derives, SSE-C on archive-put and archive-get.
core() {
	local wal=000000010000000000000007 dir="$S3_TMP/core"
	mkdir -p "$dir"
	setup "core: a WAL segment made" python3 "$top_srcdir/tests/tools/mkwal.py" "$wal" "$dir/$wal" --random $((4 * MiB))
	local envs=("${SAN_ENV[@]}" PATH="$PATH" HOME="$dir" AWS_EC2_METADATA_DISABLED=true TOTALRECALL_DRIVER=s3
		TOTALRECALL_DRIVER_DIR="$top_builddir/drivers/s3/.libs" TOTALRECALL_BUCKET="$B"
		TOTALRECALL_S3_ENDPOINT="$FAKE_URL" TOTALRECALL_S3_URI_STYLE=path TOTALRECALL_DATABASE_ID=coredb
		TOTALRECALL_STORAGE_PREFIX=/pfx/ TOTALRECALL_ENCRYPTION_KEY=core-passphrase TOTALRECALL_KDF_ITERATIONS=1000
		TOTALRECALL_STATE_DIR="$dir/state" AWS_ACCESS_KEY_ID="$ID" AWS_SECRET_ACCESS_KEY="$SECRET"
		TOTALRECALL_S3_STORAGE_CLASS=ONEZONE_IA TOTALRECALL_S3_WAL_STORAGE_CLASS=STANDARD_IA
		TOTALRECALL_S3_SSE_CUSTOMER_KEY="$SSEC_KEY")
	(cd "$dir" && env -i "${envs[@]}" "$top_builddir/src/totalrecall" archive-put "$wal") 2>"$ERR"
	ok $? "core: archive-put with settings from the environment (AWS_ACCESS_KEY_ID, TOTALRECALL_S3_*)"
	check "core: the WAL object got s3-wal-storage-class (prefix pfx/coredb/wal/ from the core)" \
		test "$(field "pfx/coredb/wal/${wal:0:16}/$wal" class)" = STANDARD_IA
	check "core: the keyring got s3-storage-class" test "$(field pfx/coredb/keyring class)" = ONEZONE_IA
	(cd "$dir" && env -i "${envs[@]}" "$top_builddir/src/totalrecall" archive-get "$dir/back" "$wal") 2>>"$ERR"
	ok $? "core: archive-get with the SSE-C key"
	check "core: ... the same bytes" cmp -s "$dir/back" "$dir/$wal"
	(cd "$dir" && env -i "${envs[@]}" TOTALRECALL_S3_SSE_CUSTOMER_KEY= "$top_builddir/src/totalrecall" \
		archive-get "$dir/nokey" "$wal") 2>"$S3_TMP/err3"
	local rc=$?
	check "core: archive-get without the SSE-C key fails, not 'absent' (exit >= 126)" test "$rc" -ge 126
	check "core: ... nothing written" test ! -e "$dir/nokey"
	(cd "$dir" && env -i "${envs[@]}" "$top_builddir/src/totalrecall" --wal-key-prefix=x/ archive-put "$wal") 2>"$S3_TMP/err3"
	check "core: wal-key-prefix cannot be set by hand" grep -q "unknown option --wal-key-prefix" "$S3_TMP/err3"
	check "core: no secret in any message" no_key "$ERR" "$S3_TMP/err3"
}

for part in ${PARTS:-sse ssec classes checksums object_lock requester_pays user_agent skew region_cache content_type partitions core}; do
	t0=$SECONDS
	$part
	echo "# $part: $((SECONDS - t0)) s"
done
finish
