# lib_conform.sh - runs the driver conformance suite (`drvtool ... conform`,
# tests/unit/drivers/conformance.c) from a driver's test script and counts
# each of its checks with the script's own check() (lib.sh or lib_s3.sh).
# Sourced after the script's library.

# conform LABEL COMMAND...: COMMAND is a drvtool invocation ending in
# `conform [options]`.  Every "ok"/"FAIL" line of the suite becomes one
# check named "LABEL: ..."; one more check fails if the suite did not run
# to its summary line (a crash half-way): reaching it is not an assertion
# of its own, so it is not counted as a pass.  Likewise a non-zero exit no
# FAIL line explains.
conform() {
	local label=$1 out line ran=0 rc=0 failed=0
	shift
	# `|| rc=$?`: under set -e a failing suite (or a sanitizer report at
	# exit) would otherwise end the script here, silently.
	out=$("$@" 2>&1) || rc=$?
	while IFS= read -r line; do
		case $line in
		"ok   "*) check "$label: ${line#ok   }" true ;;
		"FAIL "*) check "$label: ${line#FAIL }" false; failed=1 ;;
		"note "*) printf '# %s: %s\n' "$label" "${line#note }" ;;
		"conformance "*": "*" passed, "*" failed") ran=1 ;;
		*) printf '# %s: %s\n' "$label" "$line" ;;
		esac
	done <<<"$out"
	[ "$ran" -eq 1 ] || check "$label: the suite ran to its end" false
	# A non-zero exit no FAIL line explains (a leak or UB report at exit).
	[ "$rc" -eq 0 ] || [ "$failed" -eq 1 ] || check "$label: the suite exited 0 (got $rc)" false
}
