#!/bin/bash
# s3_memory.sh - peak RSS of drvtool put through the s3 driver against
# moto_server, for a 16 MiB and a 1 GiB body (generated on the fly, so
# the body itself is never in memory).  Memory must not grow with the
# object size: it is bounded by one part (s3-part-size, default 16 MiB).
#   tests/bench/s3_memory.sh [PART_SIZE_BYTES]
. "$(dirname "$0")/../integration/s3/lib_s3.sh"

PART=${1:-16777216}
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (Debian package time)"; exit 1; }
start_moto || exit 1
make_bucket "$MOTO_URL" t t bench

for size in 16777216 1073741824; do
	/usr/bin/time -v "$DRVTOOL" -D s3 -d "$top_builddir/drivers/s3/.libs" -o bucket=bench \
		-o access-key-id=t -o secret-access-key=t -o "endpoint=$MOTO_URL" -o s3-uri-style=path \
		-o "s3-part-size=$PART" put "bench/$size" --gen "$size" 2>"$S3_TMP/time" || { cat "$S3_TMP/time"; exit 1; }
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$S3_TMP/time")
	secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$S3_TMP/time")
	echo "put $size bytes (part size $PART): peak RSS ${rss} KiB, wall $secs"
done
