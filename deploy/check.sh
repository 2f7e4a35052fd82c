#!/usr/bin/env bash
# Checks the files in deploy/ without a cluster or a container runtime:
#   - every Kubernetes YAML file parses (python3 + PyYAML);
#   - every kustomization builds (`kubectl kustomize`, when kubectl is installed);
#   - every systemd unit passes `systemd-analyze verify` (when systemd-analyze is installed;
#     the binaries' paths are replaced by /bin/true, which exists everywhere).
# With --schema it also checks every manifest against the Kubernetes API types (unknown fields
# and wrong types): it installs the npm packages kubernetes-models, typescript and js-yaml into
# a temporary directory and type-checks each document (tsc's excess-property check).
#
#   deploy/check.sh [--schema]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
schema=0
case "${1:-}" in
  "") ;;
  --schema) schema=1 ;;
  *)
    echo "usage: $0 [--schema]" >&2
    exit 2
    ;;
esac

failed=0
passed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1"; }

mapfile -t yaml_files < <(cd "$here" && find kubernetes -name '*.yaml' | sort)
for f in "${yaml_files[@]}"; do
  if python3 -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$here/$f"; then
    pass "yaml $f"
  else
    fail "yaml $f"
  fi
done

if command -v kubectl >/dev/null 2>&1; then
  for dir in "$here"/kubernetes/*/; do
    name=kubernetes/$(basename "$dir")
    [[ -f "$dir/kustomization.yaml" ]] || continue
    if out=$(kubectl kustomize "$dir" 2>&1) \
        && python3 -c 'import sys, yaml; list(yaml.safe_load_all(sys.stdin))' <<<"$out"; then
      pass "kustomize $name ($(grep -c '^kind:' <<<"$out") objects)"
    else
      echo "$out" | head -20
      fail "kustomize $name"
    fi
  done
else
  echo "skip  kustomize: kubectl is not installed"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for unit in "$here"/systemd/*.service; do
    sed 's|/usr/local/bin/[a-z]*|/bin/true|g' "$unit" >"$tmp/$(basename "$unit")"
  done
  for unit in "$tmp"/*.service; do
    name=$(basename "$unit")
    if [[ "$name" == *@.service ]]; then  # a template is verified through an instance
      ln -s "$name" "$tmp/${name%@.service}@check.service"
      name=${name%@.service}@check.service
    fi
    if out=$(systemd-analyze verify "$tmp/$name" 2>&1) && [[ -z "$out" ]]; then
      pass "systemd $name"
    else
      echo "$out"
      fail "systemd $name"
    fi
  done
else
  echo "skip  systemd: systemd-analyze is not installed"
fi

if [[ $schema -eq 1 ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work" ${tmp:+"$tmp"}' EXIT
  (cd "$work" && npm init -y >/dev/null \
    && npm install --silent --no-audit --no-fund kubernetes-models@5 typescript@5 js-yaml@4 >/dev/null)
  cat >"$work/to-ts.mjs" <<'EOF'
// One exported constant per document, typed with kubernetes-models' interface for its kind.
import fs from 'fs';
import * as yaml from 'js-yaml';
const out = [];
let n = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, 'utf8')).filter(Boolean)) {
    if (doc.apiVersion.startsWith('kustomize.config.k8s.io')) continue;
    const group = doc.apiVersion.includes('/') ? doc.apiVersion : 'v1';
    n++;
    out.push(`import type { I${doc.kind} as T${n} } from "kubernetes-models/${group}/${doc.kind}";`);
    out.push(`// ${file}: ${doc.kind}/${doc.metadata.name}`);
    out.push(`export const d${n}: T${n} = ${JSON.stringify(doc, null, 1)};`);
  }
}
fs.writeFileSync('check.ts', out.join('\n') + '\n');
console.log(n);
EOF
  count=$(cd "$work" && node to-ts.mjs "${yaml_files[@]/#/$here/}")
  if (cd "$work" && npx tsc --noEmit --strict --module nodenext --moduleResolution nodenext \
        --target es2022 check.ts); then
    pass "schema: $count Kubernetes objects"
  else
    fail "schema (the lines above point into $work/check.ts, each document preceded by its file)"
    trap - EXIT
  fi
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
