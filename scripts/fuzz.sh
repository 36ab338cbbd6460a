#!/usr/bin/env bash
# The long fuzzing campaign of one target (docs/fuzzing.md): builds the harness (fuzz/FastRmp.Fuzz), instruments the
# FastRmp assemblies with SharpFuzz, builds the libFuzzer driver (fuzz/driver) and runs libFuzzer on the target for
# MINUTES (default 10), one process, corpus in artifacts/fuzz/corpus/TARGET (seeded from the project's writers and
# ../shared/samples when empty). A crash, an invariant broken, a timeout (> 30 s) or a heap over 2 GiB stops libFuzzer:
# the input is saved under artifacts/fuzz/crashes/TARGET, minimized, and the run goes on until the time is spent.
# Ends with one line: executions, exec/s, coverage (edges, features), corpus size and findings; also appended to
# artifacts/fuzz/results.tsv.
#
# Usage: scripts/fuzz.sh TARGET [MINUTES]      targets: tracedat tracefs report perfscript compressed formatfile memslot replay
# Needs: clang with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev), the .NET SDK, NuGet access once
# (the SharpFuzz.CommandLine tool is installed under artifacts/fuzz/tools).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=${1:?usage: scripts/fuzz.sh TARGET [MINUTES]}
minutes=${2:-10}
root=$PWD/artifacts/fuzz
# FUZZ_BIN: where the instrumented harness goes (a second campaign beside a running one needs its own)
bin=${FUZZ_BIN:-$root/bin}
corpus=$root/corpus/$target
crashes=$root/crashes/$target
logs=$root/logs
mkdir -p "$root" "$corpus" "$crashes" "$logs"

# FUZZ_NO_BUILD=1: reuse the instrumented harness of an earlier run (campaigns of several targets in a row).
if [ "${FUZZ_NO_BUILD:-0}" != 1 ] || [ ! -x "$bin/FastRmp.Fuzz" ]; then
echo "== build the harness"
dotnet build fuzz/FastRmp.Fuzz -c Release --nologo -v quiet >"$logs/build.log" 2>&1 || { tail -n 30 "$logs/build.log"; exit 1; }
rm -rf "$bin"
cp -r artifacts/bin/FastRmp.Fuzz/release "$bin"

echo "== instrument FastRmp.Interop, FastRmp.Engine and fastrmp (SharpFuzz)"
if [ ! -x "$root/tools/sharpfuzz" ]; then
    dotnet tool install --tool-path "$root/tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi
for dll in FastRmp.Interop.dll FastRmp.Engine.dll fastrmp.dll; do
    "$root/tools/sharpfuzz" "$bin/$dll" >/dev/null
done
fi

echo "== build the libFuzzer driver"
driver=$root/libfuzzer-dotnet
if [ ! -x "$driver" ] || [ fuzz/driver/libfuzzer-dotnet.c -nt "$driver" ]; then
    clang -O2 -fsanitize=fuzzer -Wall -Wextra -Werror fuzz/driver/libfuzzer-dotnet.c -o "$driver"
fi

if [ -z "$(ls -A "$corpus")" ]; then
    # the uninstrumented build: instrumented code runs only under the fuzzer (it writes to the fuzzer's shared memory)
    artifacts/bin/FastRmp.Fuzz/release/FastRmp.Fuzz seeds "$target" "$corpus"
fi

# The harness's managed heap is capped at 2 GiB: more is a memory blow-up (issue 18), reported as a crash.
export DOTNET_GCHeapHardLimit=0x80000000
# Instrumented code runs several times slower: an input may take 30 s before it counts as a hang (uninstrumented, the
# bounded run and 'FastRmp.Fuzz run' hold every input to 10 s).
export FASTRMP_FUZZ_MAX_SECONDS=30
deadline=$(( $(date +%s) + minutes * 60 ))
execs=0; runs=0; found=0; cov=0; ft=0; rate_sum=0
echo "== fuzz $target for $minutes min"
while [ "$(date +%s)" -lt $(( deadline - 5 )) ]; do
    left=$(( deadline - $(date +%s) ))
    log=$logs/$target-$(date +%Y%m%dT%H%M%S).log
    before=$(ls "$crashes" | grep -cv '\.min$' || true)
    set +e
    "$driver" -max_total_time="$left" -timeout=40 -max_len=262144 -rss_limit_mb=0 -print_final_stats=1 \
        -artifact_prefix="$crashes/" --target_path="$bin/FastRmp.Fuzz" --target_arg="$target" "$corpus" >"$log" 2>&1
    rc=$?
    set -e
    runs=$((runs + 1))
    n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    r=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    if [ -z "$n" ]; then n=$(printf '%s' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p'); fi
    execs=$((execs + ${n:-0})); rate_sum=$((rate_sum + ${r:-0}))
    c=$(sed -n 's/^libfuzzer-dotnet: edges covered: \([0-9]*\).*/\1/p' "$log" | tail -n 1); f=$(printf '%s' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    [ -n "$c" ] && [ "$c" -gt "$cov" ] && cov=$c
    [ -n "$f" ] && [ "$f" -gt "$ft" ] && ft=$f
    after=$(ls "$crashes" | grep -cv '\.min$' || true)
    if [ "$rc" -ne 0 ] && [ "$after" -eq "$before" ]; then
        tail -n 30 "$log"
        echo "libFuzzer stopped with $rc without saving an input (see $log)"
        exit 1
    fi

    for crash in "$crashes"/*; do
        case $crash in *.min) continue ;; esac
        [ -e "$crash.min" ] && continue
        found=$((found + 1))
        echo "-- found: $crash"
        grep -m 3 -E 'Exception|libfuzzer-dotnet:' "$log" || true
        # libFuzzer's crash minimization (each try in a fresh driver and harness), bounded in time
        "$driver" -minimize_crash=1 -max_total_time=60 -timeout=40 -exact_artifact_path="$crash.min" \
            --target_path="$bin/FastRmp.Fuzz" --target_arg="$target" "$crash" >"$log.min" 2>&1 || true
        [ -e "$crash.min" ] || cp "$crash" "$crash.min"
        echo "   minimized to $(stat -c %s "$crash.min") bytes: $crash.min (reproduce: $bin/FastRmp.Fuzz run $target $crash.min)"
    done
done

rate=$(( runs > 0 ? rate_sum / runs : 0 ))
line="fuzz $target: $execs execs in $minutes min ($rate exec/s), $cov edges (of 65536 counters), $ft features, corpus $(ls "$corpus" | wc -l), findings $found"
echo "$line"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "$minutes" "$execs" "$rate" "$cov" "$ft" "$found" >>"$root/results.tsv"
