# shellcheck shell=bash
# tests/bench/put_lib.sh - shared by the archive-put micro-benchmarks
# (keyring_check.sh, section_check.sh): fresh segments and statistics.

# make_segments DIR N: N fresh 16 MiB segments (4 MiB of each random) in
# DIR, named 0000000100000000000000<01..>, as tests/tools/mkwal.py writes them.
make_segments() {
	local dir=$1 n=$2 i name
	mkdir -p "$dir"
	for ((i = 1; i <= n; i++)); do
		name=$(printf '0000000100000000000000%02X' "$i")
		python3 "$top/tests/tools/mkwal.py" "$name" "$dir/$name" --seed "$i" --random 4194304
	done
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p95() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.95+0.999); if (i<1) i=1; print a[i]}'; }
