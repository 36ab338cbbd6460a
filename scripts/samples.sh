#!/usr/bin/env bash
# Builds and runs the consumer programs in samples/ against the PACKED libraries (not project references), so a
# broken package fails here: packs FastRmp.Interop and FastRmp.Engine into artifacts/package (the feed of
# samples/nuget.config), restores the samples into a NuGet folder of this run only (the version can repeat between
# runs of uncommitted changes, and the machine's cache must not serve an older package of that version), writes a
# synthetic SNP host trace with the benchmarks' --make-trace, then runs each sample and checks its output.
# Ends with 'samples: N passed, M failed' (each sample one test); exit status non-zero when one failed.
# Usage: scripts/samples.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
config=Release
feed=artifacts/package
work=artifacts/samples
logs=artifacts/test-logs
names=(CountEvents PolicyCounter ReplayAgreement)
mkdir -p "$feed" "$logs"
rm -rf "$work/run"
mkdir -p "$work/run"

finish() {
    echo "samples: $1 passed, $2 failed"
    [ "$2" -eq 0 ] && [ "$1" -gt 0 ]
    exit $?
}

echo "== samples: pack FastRmp.Interop and FastRmp.Engine into $feed"
rm -f "$feed"/FastRmp.Engine.*.nupkg "$feed"/FastRmp.Engine.*.snupkg "$feed"/FastRmp.Interop.*.nupkg "$feed"/FastRmp.Interop.*.snupkg
if ! { dotnet pack src/Engine/FastRmp.Engine.csproj -c "$config" -o "$feed" --nologo \
        && dotnet pack src/Interop/FastRmp.Interop.csproj -c "$config" --no-build -o "$feed" --nologo; } >"$logs/samples-pack.log" 2>&1; then
    tail -n 30 "$logs/samples-pack.log"; echo "the packages do not pack"; finish 0 ${#names[@]}
fi
if grep -qiE ': warning ' "$logs/samples-pack.log"; then
    grep -iE ': warning ' "$logs/samples-pack.log" | sort -u; echo "pack warned"; finish 0 ${#names[@]}
fi
package=$(ls "$feed"/FastRmp.Engine.*.nupkg | grep -v '\.snupkg$' | head -n 1)
version=$(basename "$package" .nupkg); version=${version#FastRmp.Engine.}
echo "FastRmp $version"

echo "== samples: the trace"
trace="$work/run/snp.dat"
if ! { dotnet build bench/FastRmp.Benchmarks -c "$config" --nologo -v quiet \
        && dotnet "artifacts/bin/FastRmp.Benchmarks/${config,,}/FastRmp.Benchmarks.dll" --make-trace "$trace" 20000; } >"$logs/samples-trace.log" 2>&1; then
    tail -n 30 "$logs/samples-trace.log"; echo "could not write the trace"; finish 0 ${#names[@]}
fi
records=$(sed -n 's/.*: \([0-9,]*\) records.*/\1/p' "$logs/samples-trace.log" | tr -d ,)
cat "$logs/samples-trace.log" | tail -n 1

# What each sample must print for that trace (the synthetic trace is a 6.18 host with 4K folios: the model agrees
# with every traced decision under every policy; in share-4k-keep with 2M folios alloc-blind looks the RMP up
# on no fault, first-use about half as often as fault-hook: docs/policies.md).
expect_CountEvents=("$records  records" "kvm:kvm_page_fault")
expect_PolicyCounter=("fault-hook     rmp_lookups = 1026" "alloc-blind    rmp_lookups = 3" "first-use      rmp_lookups = 516" "every-get-pfn  rmp_lookups = 1029")
expect_ReplayAgreement=("fault-hook     agreement 100.00 %" "alloc-blind    agreement 100.00 %" "first-use      agreement 100.00 %" "every-get-pfn  agreement 100.00 %")

export NUGET_PACKAGES="$PWD/$work/run/nuget-packages"
passed=0; failed=0
for name in "${names[@]}"; do
    echo "== samples: $name"
    project="samples/$name/$name.csproj"
    out="$work/run/$name.out"
    if ! dotnet build "$project" -c "$config" --nologo -v quiet -p:FastRmpVersion="$version" >"$logs/samples-$name-build.log" 2>&1; then
        tail -n 20 "$logs/samples-$name-build.log"; echo "FAIL $name: does not build against the packages"; failed=$((failed + 1)); continue
    fi
    if ! grep -q "$version" "$work/run/nuget-packages/fastrmp.interop/$version/fastrmp.interop.nuspec" 2>/dev/null; then
        echo "FAIL $name: did not restore FastRmp $version from the local feed"; failed=$((failed + 1)); continue
    fi
    case $name in
        PolicyCounter) run_args=() ;;
        *) run_args=("$trace") ;;
    esac
    if ! dotnet "$work/bin/$name/${config,,}/$name.dll" "${run_args[@]}" >"$out" 2>&1; then
        cat "$out"; echo "FAIL $name: exited non-zero"; failed=$((failed + 1)); continue
    fi
    cat "$out"
    declare -n expected="expect_$name"
    ok=1
    for line in "${expected[@]}"; do
        if ! grep -qF -- "$line" "$out"; then echo "FAIL $name: no line with '$line'"; ok=0; fi
    done
    if [ "$ok" -eq 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
rm -rf "$work/run/nuget-packages"
finish "$passed" "$failed"
