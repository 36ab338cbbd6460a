#!/usr/bin/env bash
# Regenerates the README's example blocks from real runs, so they cannot go stale: each block between
# '<!-- example:NAME:begin ... -->' and '<!-- example:NAME:end -->' is the command it shows and what that command
# prints now. 'fastrmp' in a command is the built tool; host.dat is the synthetic 6.18 SNP host trace of the
# benchmarks (--make-trace host.dat 20000). Timings are never shown, so a block changes only when the model does.
# Usage: scripts/update-readme-examples.sh [--check] [FILE]   (FILE: default README.md)
#   --check: writes nothing; prints the difference and exits 1 when a block is not what its command prints now
#            (ReadmeExamplesTests runs this).
# Environment: FASTRMP_CLI, the tool to run (a fastrmp.dll, run through dotnet, or a native binary; default: build
#   src/Cli in Release and run its dll); FASTRMP_EXAMPLE_TRACE, the host.dat to use (default: written by the
#   benchmarks' --make-trace, which the tests' SnpTraceFixture.Write(path, 20000, vcpus: 8, 62 GiB) equals).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
file=${1:-README.md}
work=$(mktemp -d "${TMPDIR:-/tmp}/fastrmp-examples-XXXXXX")
trap 'rm -rf "$work"' EXIT

cli=${FASTRMP_CLI:-}
if [ -z "$cli" ]; then
    dotnet build src/Cli -c Release --nologo -v quiet >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
    cli="$PWD/artifacts/bin/FastRmp.Cli/release/fastrmp.dll"
fi
if [[ "$cli" == *.dll ]]; then
    fastrmp() { dotnet "$cli" "$@"; }
else
    fastrmp() { "$cli" "$@"; }
fi

if [ -n "${FASTRMP_EXAMPLE_TRACE:-}" ]; then
    cp "$FASTRMP_EXAMPLE_TRACE" "$work/host.dat"
else
    dotnet run -c Release --project bench/FastRmp.Benchmarks -- --make-trace "$work/host.dat" 20000 >"$work/trace.log" 2>&1 \
        || { cat "$work/trace.log"; exit 1; }
fi

# The examples: NAME and the command line shown (run in a folder holding host.dat).
names=()
commands=()
example() { names+=("$1"); commands+=("$2"); }
example scenario "fastrmp scenario share-4k-keep --policy first-use --folio 2m | grep -E 'counter|psmash|rmp_npf|rmp_lookups'"
example compare "fastrmp compare host.dat --folio 2m | grep -E 'counter|agreement with'"
example compare-4k "fastrmp compare host.dat | grep -E 'counter|agreement|levels'"
example info "fastrmp info host.dat"

cp "$file" "$work/new.md"
for i in "${!names[@]}"; do
    name=${names[$i]}
    command=${commands[$i]}
    if ! grep -qF "<!-- example:$name:begin" "$work/new.md"; then
        echo "$file has no block example:$name"; exit 1
    fi
    {
        echo '```console'
        echo "\$ $command"
        (cd "$work" && eval "$command")
        echo '```'
    } >"$work/block"
    awk -v begin="<!-- example:$name:begin" -v end="<!-- example:$name:end" -v block="$work/block" '
        index($0, begin) == 1 { print; while ((getline line < block) > 0) print line; skipping = 1; next }
        index($0, end) == 1 { skipping = 0 }
        !skipping { print }' "$work/new.md" >"$work/next.md"
    mv "$work/next.md" "$work/new.md"
done

if [ "$check" -eq 1 ]; then
    if ! diff -u "$file" "$work/new.md"; then
        echo "$file: the example blocks above are not what their commands print now; run scripts/update-readme-examples.sh"
        exit 1
    fi
    echo "$file: every example block is what its command prints now"
else
    cp "$work/new.md" "$file"
fi
