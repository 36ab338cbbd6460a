#!/usr/bin/env bash
# Runs every FastRmp test on a fresh clone: builds native-stubs (C17, CMake), runs its CTest suite, then every .NET
# test project (xunit.v3 on Microsoft.Testing.Platform) in Release, the Engine tests again in Debug (invariant checks,
# tiny batches), then every benchmark once (dry, with allocation budgets), then the samples against the packed
# libraries (scripts/samples.sh).
# Ends with one line: 'tests: N passed, M failed, K skipped'.
# Exit status: non-zero when anything failed or when no test ran.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
config=${CONFIGURATION:-Release}
logs=artifacts/test-logs
mkdir -p "$logs"

summary() {
    echo "tests: $1 passed, $2 failed, $3 skipped"
    if [ "$2" -ne 0 ] || [ "$1" -eq 0 ]; then exit 1; fi
    exit 0
}

echo "== native-stubs: configure and build"
if ! cmake -S native-stubs -B artifacts/native-stubs -DCMAKE_BUILD_TYPE=Release >"$logs/cmake.log" 2>&1 \
    || ! cmake --build artifacts/native-stubs -j 2 >>"$logs/cmake.log" 2>&1; then
    cat "$logs/cmake.log"
    echo "native-stubs did not build (see above)"
    summary 0 1 0
fi

echo "== native-stubs: ctest"
ctest --test-dir artifacts/native-stubs --output-on-failure >"$logs/ctest.log" 2>&1
tail -n 3 "$logs/ctest.log"
c_total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$logs/ctest.log" | tail -n 1)
c_failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$logs/ctest.log" | tail -n 1)
if [ -z "$c_total" ]; then cat "$logs/ctest.log"; c_total=1; c_failed=1; fi

echo "== .NET: dotnet test ($config)"
export FASTRMP_NATIVE_STUBS="$PWD/artifacts/native-stubs"
dotnet test --solution FastRmp.sln -c "$config" --no-progress 2>&1 | tee "$logs/dotnet.log"
clean=$(sed 's/\x1b\[[0-9;]*m//g' "$logs/dotnet.log")
field() { printf '%s\n' "$clean" | sed -n "s/^ *$1: *\([0-9]*\).*/\1/p" | tail -n 1; }
n_ok=$(field succeeded); n_failed=$(field failed); n_skipped=$(field skipped)
if [ -z "$n_ok" ] || [ -z "$n_failed" ]; then
    echo "dotnet test printed no summary (build failure?)"
    n_ok=${n_ok:-0}; n_failed=$(( ${n_failed:-0} + 1 )); n_skipped=${n_skipped:-0}
fi

# The Engine tests again in Debug: the model's Debug-only invariant checks (the per-fault leaf check, every
# Debug.Assert) run, and Debug builds shrink batch sizes (fresh-run and replay lookahead) so the suite crosses batch
# edges. About 2-3 minutes on 2 cores.
echo "== .NET: Engine tests in Debug (invariant checks, tiny batches)"
dotnet test --project tests/FastRmp.Engine.Tests -c Debug --no-progress 2>&1 | tee "$logs/dotnet-debug.log"
clean=$(sed 's/\x1b\[[0-9;]*m//g' "$logs/dotnet-debug.log")
d_ok=$(field succeeded); d_failed=$(field failed); d_skipped=$(field skipped)
if [ -z "$d_ok" ] || [ -z "$d_failed" ]; then
    echo "dotnet test (Debug) printed no summary (build failure?)"
    d_ok=${d_ok:-0}; d_failed=$(( ${d_failed:-0} + 1 )); d_skipped=${d_skipped:-0}
fi
n_ok=$(( n_ok + d_ok )); n_failed=$(( n_failed + d_failed )); n_skipped=$(( ${n_skipped:-0} + ${d_skipped:-0} ))

# Every benchmark once (BenchmarkDotNet's Dry job, in process) so none rots, each checked against its allocation
# budget (bench/FastRmp.Benchmarks/AllocationBudgetAttribute.cs; 0 bytes per operation on hot paths, and a canary
# that must be reported over budget). Each benchmark counts as one test. About 1-2.5 minutes on 2 cores.
echo "== benchmarks: dry run with allocation budgets"
dotnet build bench/FastRmp.Benchmarks -c "$config" --nologo -v quiet >"$logs/bench-build.log" 2>&1 || { tail -n 30 "$logs/bench-build.log"; echo "the benchmarks do not build"; }
bench_dll="$PWD/artifacts/bin/FastRmp.Benchmarks/${config,,}/FastRmp.Benchmarks.dll"
(cd artifacts && DOTNET_TieredCompilation=0 dotnet "$bench_dll" --dry --budgets --filter '*') >"$logs/bench-dry.log" 2>&1
b_rc=$?
grep -E '^FAIL ' "$logs/bench-dry.log"
b_ok=$(sed -n 's/^benchmarks: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$logs/bench-dry.log" | tail -n 1)
b_failed=$(sed -n 's/^benchmarks: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$logs/bench-dry.log" | tail -n 1)
if [ -z "$b_ok" ]; then
    tail -n 30 "$logs/bench-dry.log"
    echo "the benchmark dry run printed no summary (see $logs/bench-dry.log)"
    b_ok=0; b_failed=1
elif [ "$b_rc" -ne 0 ] && [ "$b_failed" -eq 0 ]; then
    echo "the benchmark dry run exited with $b_rc (see $logs/bench-dry.log)"
    b_failed=1
fi
grep -E '^benchmarks: ' "$logs/bench-dry.log" | tail -n 1

# The samples: three consumer programs built against the packed libraries from a local feed, not against project
# references, so a broken package fails here (scripts/samples.sh). Each sample counts as one test. About a minute.
echo "== samples: consumers of the packages"
scripts/samples.sh >"$logs/samples.log" 2>&1
grep -E '^(FAIL |FastRmp |samples: )' "$logs/samples.log"
s_ok=$(sed -n 's/^samples: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$logs/samples.log" | tail -n 1)
s_failed=$(sed -n 's/^samples: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$logs/samples.log" | tail -n 1)
if [ -z "$s_ok" ] || [ -z "$s_failed" ]; then
    tail -n 30 "$logs/samples.log"
    echo "the samples printed no summary (see $logs/samples.log)"
    s_ok=0; s_failed=1
fi

summary $(( c_total - c_failed + n_ok + b_ok + s_ok )) $(( c_failed + n_failed + b_failed + s_failed )) "${n_skipped:-0}"
