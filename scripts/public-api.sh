#!/usr/bin/env bash
# Records public API the build reports as undeclared (RS0016) in each library's PublicAPI.Unshipped.txt and drops
# declared entries that no longer exist (RS0017), after a deliberate change to what consumers see. Review the diff of
# the PublicAPI.*.txt files before committing: it is the API change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet build FastRmp.sln -c Release --nologo >"$log" 2>&1 || true
python3 - "$log" "$PWD" <<'PY'
import collections, re, sys
log, root = open(sys.argv[1]).read(), sys.argv[2]
add, drop = collections.defaultdict(set), collections.defaultdict(set)
for m in re.finditer(r"^(?:" + re.escape(root) + r"/)?(src/[A-Za-z]+)/[^\n]*?error RS0016: Symbol '(.*?)' is not part of the declared public API", log, re.M):
    add[m.group(1)].add(m.group(2))
for m in re.finditer(r"^(?:" + re.escape(root) + r"/)?(src/[A-Za-z]+)/PublicAPI\.\w+\.txt[^\n]*?error RS0017: Symbol '(.*?)' is part of the declared API", log, re.M):
    drop[m.group(1)].add(m.group(2))
for d in sorted(set(add) | set(drop)):
    for name in ("Shipped", "Unshipped"):
        path = f"{d}/PublicAPI.{name}.txt"
        lines = open(path).read().splitlines()
        body = [l for l in lines[1:] if l not in drop[d]]
        if name == "Unshipped":
            body = sorted(set(body) | add[d])
        open(path, "w").write("\n".join([lines[0]] + body) + "\n")
    print(f"{d}: {len(add[d])} added to PublicAPI.Unshipped.txt, {len(drop[d])} removed")
PY
