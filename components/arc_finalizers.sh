# ARC finalizer guard: runs when a platform destroy removes the runner scale
# set, after its Helm release is uninstalled and before the controller's
# (and before the GitHub App Secret, which a live controller needs to
# deregister the runners). Waits up to ARC_TIMEOUT_SECONDS for the
# controller to clear the ARC finalizers of this scale set's objects; if it
# does not (controller gone, not ready, or not reconciling), removes them
# and deletes what is left. It fails closed: a missing kubectl, a bad
# kubeconfig, an unreachable API server or a refusal fails the delete and
# says why, since "nothing to do" would leave the destroy hanging on the
# very finalizers this guard exists for.
set -euo pipefail
fail() { echo "ARC finalizer guard: $*" >&2; exit 1; }
command -v kubectl >/dev/null 2>&1 || fail "kubectl is not on PATH; it is needed to clear the runners' finalizers (install it, or clear them by hand: see the README)"
k() { kubectl ${ARC_KUBE_CONTEXT:+--context "$ARC_KUBE_CONTEXT"} --request-timeout=30s "$@"; }
if [ -n "${ARC_KUBECONFIG:-}" ]; then
  case "$ARC_KUBECONFIG" in
    *apiVersion:* | *$'\n'*)
      tmp=$(mktemp) && trap 'rm -f "$tmp"' EXIT
      printf '%s' "$ARC_KUBECONFIG" >"$tmp"
      export KUBECONFIG="$tmp" ;;
    *) export KUBECONFIG="$ARC_KUBECONFIG" ;;
  esac
fi
sel="actions.github.com/scale-set-name=$ARC_SCALE_SET,actions.github.com/scale-set-namespace=$ARC_RUNNERS_NAMESPACE"
tpl='{{range .items}}{{.metadata.namespace}} {{.metadata.name}} {{range .metadata.finalizers}}{{.}},{{end}}{{"\n"}}{{end}}'

# The cluster must answer, and this identity must see what it may clear.
err=$(k get namespace "$ARC_RUNNERS_NAMESPACE" --ignore-not-found -o name 2>&1 >/dev/null) ||
  fail "cannot reach the cluster: $err"
for verb in list patch; do
  [ "$(k auth can-i "$verb" pods -n "$ARC_RUNNERS_NAMESPACE" 2>&1)" = yes ] ||
    fail "this identity may not $verb pods in $ARC_RUNNERS_NAMESPACE, so it cannot clear the runners' finalizers"
done

# kinds are the resource types to look at: ARC's own only while their
# CRDs exist (the controller's uninstall may have removed them).
arc=$(k api-resources --api-group=actions.github.com -o name 2>&1) || fail "listing ARC's resource types: $arc"
kinds="roles.rbac.authorization.k8s.io rolebindings.rbac.authorization.k8s.io serviceaccounts secrets pods"
for kind in autoscalingrunnersets.actions.github.com ephemeralrunnersets.actions.github.com ephemeralrunners.actions.github.com autoscalinglisteners.actions.github.com; do
  if printf '%s\n' "$arc" | grep -qx "$kind"; then kinds="$kind $kinds"; fi
done

# held prints "kind namespace name finalizers" for each object of the scale
# set that still carries an ARC finalizer; any API error fails the guard.
held() {
  local kind out
  for kind in $kinds; do
    out=$(k get "$kind" -A -l "$sel" -o go-template="$tpl" 2>&1) || fail "listing $kind: $out"
    printf '%s\n' "$out" | awk -v kind="$kind" '$3 ~ /actions\.github\.com/ { print kind, $1, $2, $3 }'
  done
}

ready=$(k get deployment "$ARC_CONTROLLER" -n "$ARC_CONTROLLER_NAMESPACE" --ignore-not-found -o 'jsonpath={.status.availableReplicas}' 2>&1) ||
  fail "reading the ARC controller $ARC_CONTROLLER_NAMESPACE/$ARC_CONTROLLER: $ready"
if [ "${ready:-0}" -gt 0 ]; then
  deadline=$((SECONDS + ARC_TIMEOUT_SECONDS))
  while left=$(held) && [ -n "$left" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 2; done
  why="the ARC controller $ARC_CONTROLLER_NAMESPACE/$ARC_CONTROLLER did not clear them within ${ARC_TIMEOUT_SECONDS}s (it is not reconciling)"
else
  why="the ARC controller $ARC_CONTROLLER_NAMESPACE/$ARC_CONTROLLER is gone or has no available replica"
fi

left=$(held)
if [ -z "$left" ]; then
  echo "ARC finalizers of scale set $ARC_RUNNERS_NAMESPACE/$ARC_SCALE_SET: none left, nothing to do"
  exit 0
fi
echo "ARC finalizers of scale set $ARC_RUNNERS_NAMESPACE/$ARC_SCALE_SET are still held: $why; removing them"
while read -r kind ns name finalizers; do
  keep=$(printf '%s' "$finalizers" | tr ',' '\n' | { grep -v -e 'actions\.github\.com' -e '^$' || true; } | sed 's/.*/"&"/' | paste -sd, -)
  out=$(k patch "$kind" "$name" -n "$ns" --type=merge -p "{\"metadata\":{\"finalizers\":[${keep}]}}" 2>&1) ||
    fail "removing the finalizers of $kind $ns/$name: $out"
  echo "  removed ${finalizers%,} from $kind $ns/$name"
  out=$(k delete "$kind" "$name" -n "$ns" --ignore-not-found --wait=false 2>&1) ||
    fail "deleting $kind $ns/$name: $out"
done <<<"$left"
