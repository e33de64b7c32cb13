#!/usr/bin/env bash
# Runs every fuzz target of the given packages (default: every package that
# has one) for FUZZTIME each, one after another, and fails if any of them
# fails.
#
#   scripts/fuzz.sh                      # every Fuzz* target, 10s each
#   FUZZTIME=60s scripts/fuzz.sh ./monerod
#
# The seeds (the recorded monerod answers, among others) already run as
# ordinary tests under `go test`; this adds the fuzzing itself. A failing
# input is written to <package>/testdata/fuzz/<Target>/ and printed below,
# since CI's checkout is thrown away: commit it with the fix and it stays a
# regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
# Minimizing an input that found new coverage can take a fuzzer's whole
# time; keep it short so that short runs mostly fuzz.
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
if [ $# -eq 0 ]; then
	# The packages whose tests declare a fuzz target, found without
	# building the others.
	mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u)
	if [ ${#pkgs[@]} -eq 0 ]; then
		echo "fuzz.sh: no fuzz targets found" >&2
		exit 1
	fi
	set -- "${pkgs[@]}"
fi

# `go test -list` prints a package's matching names, then "ok  <package>".
targets=()
names=()
while read -r first second _; do
	case $first in
	Fuzz*) names+=("$first") ;;
	ok)
		for n in "${names[@]}"; do targets+=("$second $n"); done
		names=()
		;;
	*) names=() ;;
	esac
done < <("$GO" test -list '^Fuzz' "$@")
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets in $*" >&2
	exit 1
fi

stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
failed=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "=== $name ($pkg, $FUZZTIME)"
	if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" \
		-fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg"; then
		failed+=("$pkg $name")
		dir="$("$GO" list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name"
		if [ -d "$dir" ]; then
			find "$dir" -type f -newer "$stamp" | while read -r f; do
				echo "--- failing input $f:"
				cat "$f"
			done
		fi
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: ${#failed[@]} of ${#targets[@]} fuzz targets failed:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz.sh: ${#targets[@]} fuzz targets, $FUZZTIME each: no failure"
