#!/usr/bin/env bash
# Regenerates the README's benchmark table (between the bench-table markers) from the "## Headline" tables of
# docs/benchmarks/*.md, and the scaling chart (docs/benchmarks/scaling.svg) from docs/benchmarks/scaling.md.
# Reads committed results only; measures nothing. Usage: scripts/update-readme-bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
run() { dotnet run -c Release --project bench/FastRmp.Benchmarks -- "$@"; }
run --readme "$PWD/docs/benchmarks" "$PWD/README.md"
if [ -f docs/benchmarks/scaling.md ]; then
    run --chart "$PWD/docs/benchmarks/scaling.md" "$PWD/docs/benchmarks/scaling.svg"
fi
