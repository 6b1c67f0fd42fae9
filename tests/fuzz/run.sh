#!/usr/bin/env bash
# Build the libFuzzer targets with clang (ASan + UBSan) and run each one for
# a bounded time: the CI smoke run, and the long runs reported in notes.
#
#   tests/fuzz/run.sh               20 s per target (the CI smoke run)
#   tests/fuzz/run.sh 600           600 s per target
#   tests/fuzz/run.sh -runs=10000000  a fixed number of executions per target
#
# Before fuzzing, every input in tests/fuzz/regressions/<target>/ (crashes
# found earlier, kept once fixed) is run once. Exit status is non-zero if a
# regression input or a fuzzing run crashes, leaks, times out or runs out
# of memory; the crashing input is left in the work directory and its path
# printed. A summary line per target gives its executions and rate.
#
# Environment:
#   FUZZ_BUILD    build directory (default: <repo>/build-fuzz), configured
#                 here with CC=${FUZZ_CC:-clang} if it has no CMakeCache.txt
#   FUZZ_TARGETS  which targets (default: "fuzz_index fuzz_mapping fuzz_view
#                 fuzz_objgraph fuzz_safetensors fuzz_hfindex fuzz_http")
#   FUZZ_WORK     where corpora grow and crashes land (default:
#                 $FUZZ_BUILD/fuzz-work/<target>); the seeds in
#                 tests/fuzz/corpus/<name>/ are never written to
#   FUZZ_ARGS     extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
targets=${FUZZ_TARGETS:-fuzz_index fuzz_mapping fuzz_view fuzz_objgraph fuzz_safetensors fuzz_hfindex fuzz_http}

limit=(-max_total_time=20)
case "${1:-}" in
"") ;;
-runs=*) limit=("$1") ;;
*[!0-9]* | 0)
	echo "usage: $0 [SECONDS_EACH|-runs=N]" >&2
	exit 2 ;;
*) limit=(-max_total_time="$1") ;;
esac

# ---------------------------------------------------------------- build
if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=${FUZZ_CC:-clang} cmake -S "$root" -B "$build" -DCKPTFS_FUZZ=ON \
		-DCKPTFS_BUILD_TESTS=OFF -DCKPTFS_SANITIZE=address,undefined -DCKPTFS_MAN=OFF \
		>/dev/null
fi
# shellcheck disable=SC2086
if ! cmake --build "$build" -j"$(nproc)" --target $targets >"$build/fuzz-build.log" 2>&1; then
	cat "$build/fuzz-build.log" >&2
	if grep -q 'libclang_rt' "$build/fuzz-build.log"; then
		echo "run.sh: clang's runtime libraries are missing:" \
			"apt-get install libclang-rt-14-dev" >&2
	fi
	exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# corpus/dictionary name of a target: fuzz_index -> index
corpus_name() { echo "${1#fuzz_}"; }

fails=0
summary=()
for t in $targets; do
	name=$(corpus_name "$t")
	bin=$build/tests/fuzz/$t
	work=${FUZZ_WORK:-$build/fuzz-work}/$t
	seeds=$here/corpus/$name
	dict=()
	[ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
	# a mapping needs no more; longer ones only make views slow to build
	maxlen=()
	[ "$t" = fuzz_view ] && maxlen=(-max_len=1024)
	mkdir -p "$work/corpus" "$work/tmp"

	# 1. regression inputs first: each one crashed once
	regs=()
	if [ -d "$here/regressions/$t" ]; then
		while IFS= read -r -d '' f; do regs+=("$f"); done < <(
			find "$here/regressions/$t" -type f ! -name '*.md' -print0 | sort -z)
	fi
	for f in ${regs[@]+"${regs[@]}"}; do
		if ! TMPDIR=$work/tmp "$bin" "$f" \
			>"$work/regression.log" 2>&1; then
			echo "FAIL $t: regression input still crashes: $f" >&2
			grep -E 'ERROR|runtime error|check failed' "$work/regression.log" |
				head -3 >&2 || true
			fails=$((fails + 1))
		fi
	done

	# 2. fuzz: seeds and the grown corpus, new units into $work/corpus
	log=$work/fuzz.log
	echo "== $t: ${limit[*]} ${FUZZ_ARGS:+$FUZZ_ARGS }(log: $log)"
	rm -f "$work"/fuzz-*.log # per-job logs of -jobs=N
	rc=0
	(cd "$work" && TMPDIR=$work/tmp exec "$bin" "${limit[@]}" -timeout=10 \
		-rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$work/" \
		${dict[@]+"${dict[@]}"} ${maxlen[@]+"${maxlen[@]}"} ${FUZZ_ARGS:-} \
		"$work/corpus" "$seeds") \
		>"$log" 2>&1 || rc=$?
	rm -rf "${work:?}/tmp"
	# with -jobs=N each process logs to fuzz-<i>.log (which the main log
	# repeats): sum over those
	logs=()
	for f in "$work"/fuzz-*.log; do [ -f "$f" ] && logs+=("$f"); done
	[ ${#logs[@]} -eq 0 ] && logs=("$log")
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "${logs[@]}" |
		awk '{ s += $1 } END { if (NR) print s }')
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "${logs[@]}" |
		awk '{ s += $1 } END { if (NR) print s }')
	cov=$(grep -hoE 'cov: [0-9]+ ft: [0-9]+' "${logs[@]}" | tail -1 || true)
	extra=$({ grep -hE '^fuzz_view: [0-9]+ inputs' "${logs[@]}" || true; } |
		awk '{ a += $2; b += $4; c += $9 } END { if (NR) printf "%d inputs: %d mappings inside the fixtures, %d views built and checked", a, b, c }')
	if [ $rc -ne 0 ]; then
		art=$(sed -n "s/.*Test unit written to //p" "${logs[@]}" | tail -1)
		echo "FAIL $t (exit $rc): ${art:-see $log}" >&2
		grep -hE '==ERROR|runtime error|check failed|SUMMARY' "${logs[@]}" | head -5 >&2 || true
		fails=$((fails + 1))
	fi
	line="$t: ${execs:-?} execs, ${rate:-?} exec/s, $cov${extra:+; $extra}"
	[ $rc -ne 0 ] && line="$line, CRASHED"
	summary+=("$line")
	echo "$line"
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ $fails -ne 0 ]; then
	echo "run.sh: $fails failure(s)" >&2
	exit 1
fi
