# lib_conform.sh - runs the driver conformance suite (`drvtool ... conform`,
# tests/unit/drivers/conformance.c) from a driver's test script and counts
# each of its checks with the script's own check() (lib.sh or lib_s3.sh).
# Sourced after the script's library.

# conform LABEL COMMAND...: COMMAND is a drvtool invocation ending in
# `conform [options]`.  Every "ok"/"FAIL" line of the suite becomes one
# check named "LABEL: ..."; one more check fails if the suite did not run
# to its summary line (a crash half-way).
conform() {
	local label=$1 out line ran=0
	shift
	out=$("$@" 2>&1)
	while IFS= read -r line; do
		case $line in
		"ok   "*) check "$label: ${line#ok   }" true ;;
		"FAIL "*) check "$label: ${line#FAIL }" false ;;
		"note "*) printf '# %s: %s\n' "$label" "${line#note }" ;;
		"conformance "*": "*" passed, "*" failed") ran=1 ;;
		*) printf '# %s: %s\n' "$label" "$line" ;;
		esac
	done <<<"$out"
	check "$label: the suite ran to its end" test "$ran" -eq 1
}
