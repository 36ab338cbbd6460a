#!/usr/bin/env bash
# Regenerates the example blocks of the README and docs from real runs, so they cannot go stale: each block between
# '<!-- example:NAME:begin ... -->' and '<!-- example:NAME:end -->' is what its command prints now (a console block
# shows the command line too). 'fastrmp' in a command is the built tool; host.dat is the synthetic 6.18 SNP host
# trace of the benchmarks (--make-trace host.dat 20000). Timings are never shown, so a block changes only when the
# model does. Usage: scripts/update-readme-examples.sh [--check]
#   --check: writes nothing; prints the difference and exits 1 when a block is not what its command prints now
#            (ReadmeExamplesTests runs this).
# Environment: FASTRMP_CLI, the tool to run (a fastrmp.dll, run through dotnet, or a native binary; default: build
#   src/Cli in Release and run its dll); FASTRMP_EXAMPLE_TRACE, the host.dat to use (default: written by the
#   benchmarks' --make-trace, which the tests' SnpTraceFixture.Write(path, 20000, vcpus: 8, 62 GiB) equals).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
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

# The examples: the file, the block's NAME, its fence (console: the command line, then its output; else only the
# output, in a block of that language) and the command (run in a folder holding host.dat).
files=(); names=(); fences=(); commands=()
example() { files+=("$1"); names+=("$2"); fences+=("$3"); commands+=("$4"); }
example README.md scenario console "fastrmp scenario share-4k-keep --policy first-use --folio 2m | grep -E 'counter|psmash|rmp_npf|rmp_lookups'"
example README.md compare-4k console "fastrmp compare host.dat | grep -E 'counter|agreement|levels'"
example README.md compare console "fastrmp compare host.dat --folio 2m | grep -E 'counter|agreement with'"
example README.md info console "fastrmp info host.dat"
example docs/cli.md scenario-json json "fastrmp scenario share-4k-keep --policy first-use --folio 2m --json run.json >/dev/null && cat run.json"
example docs/replay.md disagreement-jsonl json "fastrmp compare host.dat --folio 2m --policies first-use --disagreements d.jsonl >/dev/null && head -n 1 d.jsonl"

status=0
for file in $(printf '%s\n' "${files[@]}" | sort -u); do
    cp "$file" "$work/new.md"
    for i in "${!names[@]}"; do
        [ "${files[$i]}" = "$file" ] || continue
        name=${names[$i]}
        command=${commands[$i]}
        if ! grep -qF "<!-- example:$name:begin" "$work/new.md"; then
            echo "$file has no block example:$name"; exit 1
        fi
        {
            echo "\`\`\`${fences[$i]}"
            if [ "${fences[$i]}" = console ]; then echo "\$ $command"; fi
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
            status=1
        fi
    else
        cp "$work/new.md" "$file"
    fi
done
if [ "$check" -eq 1 ] && [ "$status" -eq 0 ]; then
    echo "every example block is what its command prints now"
fi
exit "$status"
