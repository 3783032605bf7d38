#!/usr/bin/env bash
# make fuzz: runs every Go fuzz target of the repository, one after the
# other, each for FUZZTIME (go test -fuzz ... -fuzztime FUZZTIME).
#
#   scripts/fuzz.sh [FUZZTIME] [PACKAGE_PATTERN...]
#
#   scripts/fuzz.sh 30s                   every target, 30 s each (default 30s)
#   scripts/fuzz.sh 2m ./server/wire      only the targets of that package
#   FUZZ_PARALLEL=1 scripts/fuzz.sh 60s   fuzzing workers per target (default 2)
#   FUZZ_ONLY=FuzzDecodeSnapshot scripts/fuzz.sh 60s   only targets matching this regexp
#
# Targets are discovered with `go test -list '^Fuzz'`, so a new FuzzXxx is
# picked up without editing this file. One line per target, then
# "N passed, N failed"; exit status 1 when any target failed. A failing
# input is written by go test to <package>/testdata/fuzz/FuzzXxx/<hash>:
# the line of a failed target names that file; fix the bug and commit the
# file, it is then a regression seed that `make test` runs every time.
set -uo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-30s}
shift || true
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
parallel=${FUZZ_PARALLEL:-2}
only=${FUZZ_ONLY:-}

# go test's -timeout must outlast fuzztime: fuzztime plus 10 minutes
# (also covers the corpus run and the build).
secs=600
case $fuzztime in
  *h) secs=$((${fuzztime%h} * 3600 + 600)) ;;
  *m) secs=$((${fuzztime%m} * 60 + 600)) ;;
  *s) secs=$((${fuzztime%s} + 600)) ;;
  *x) secs=3600 ;; # an exec count (e.g. 1000x)
  *)
    echo "fuzz.sh: FUZZTIME $fuzztime: want a duration like 30s, 5m, 1h (or a count like 1000x)" >&2
    exit 2
    ;;
esac

list=$(go test -list '^Fuzz' "${pkgs[@]}" 2>&1)
if [ $? -ne 0 ]; then
  echo "$list" >&2
  echo "fuzz.sh: listing fuzz targets failed" >&2
  exit 1
fi
# go test -list prints the names of a package, then "ok  <package> <time>".
targets=()
names=()
while IFS= read -r line; do
  case $line in
    Fuzz*) names+=("$line") ;;
    ok*)
      pkg=$(awk '{print $2}' <<<"$line")
      for n in "${names[@]}"; do
        if [ -z "$only" ] || grep -Eq -- "$only" <<<"$n"; then
          targets+=("$pkg $n")
        fi
      done
      names=()
      ;;
  esac
done <<<"$list"

if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, $fuzztime each, $parallel workers"

module=$(go list -m)
log=$(mktemp -d "${TMPDIR:-/tmp}/zkgo-fuzz.XXXXXX")
pass=0
fail=0
failed=()
for t in "${targets[@]}"; do
  pkg=${t% *}
  name=${t#* }
  dir=.${pkg#"$module"}
  out="$log/$(tr / _ <<<"${pkg#"$module"/}")-$name.log"
  start=$(date +%s)
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "$parallel" \
    -timeout "${secs}s" "$pkg" >"$out" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  execs=$(grep -Eo 'execs: [0-9]+' "$out" | tail -1 | awk '{print $2}')
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1))
    printf 'PASS %-40s %-28s %4ds %s execs\n' "$dir" "$name" "$took" "${execs:-?}"
  else
    fail=$((fail + 1))
    crasher=$(grep -Eo 'testdata/fuzz/[^ ]+' "$out" | tail -1)
    printf 'FAIL %-40s %-28s %4ds %s execs\n' "$dir" "$name" "$took" "${execs:-?}"
    grep -E -- '--- FAIL|fuzz_test.go:[0-9]+:|panic:|Error' "$out" | head -5 | sed 's/^/     /'
    if [ -n "$crasher" ]; then
      echo "     failing input: $dir/$crasher (re-run: go test -run '$name/$(basename "$crasher")' $dir)"
      failed+=("$dir/$crasher")
    else
      echo "     log: $out"
      failed+=("$dir $name (log $out)")
    fi
  fi
done

echo "$pass passed, $fail failed"
if [ $fail -gt 0 ]; then
  echo "failing inputs (commit each as a regression seed once fixed):"
  printf '  %s\n' "${failed[@]}"
  echo "full logs: $log"
  exit 1
fi
rm -rf "$log"
