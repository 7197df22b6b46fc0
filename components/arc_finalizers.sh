# ARC finalizer guard: runs when a platform destroy removes the runner scale
# set, after its Helm release is uninstalled and before the controller's.
# Waits up to ARC_TIMEOUT_SECONDS for the controller to clear the ARC
# finalizers of this scale set's objects; if it does not (controller gone,
# not ready, or not reconciling), removes them and deletes what is left.
set -u
k() { kubectl ${ARC_KUBE_CONTEXT:+--context "$ARC_KUBE_CONTEXT"} "$@"; }
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
kinds="autoscalingrunnersets.actions.github.com ephemeralrunnersets.actions.github.com ephemeralrunners.actions.github.com autoscalinglisteners.actions.github.com roles.rbac.authorization.k8s.io rolebindings.rbac.authorization.k8s.io serviceaccounts secrets pods"
tpl='{{range .items}}{{.metadata.namespace}} {{.metadata.name}} {{range .metadata.finalizers}}{{.}},{{end}}{{"\n"}}{{end}}'

# held prints "kind namespace name finalizers" for each object of the scale
# set that still carries an ARC finalizer (kinds whose CRD is gone are skipped).
held() {
  for kind in $kinds; do
    k get "$kind" -A -l "$sel" --ignore-not-found -o go-template="$tpl" 2>/dev/null |
      awk -v kind="$kind" '$3 ~ /actions\.github\.com/ { print kind, $1, $2, $3 }'
  done
}

ready=$(k get deployment "$ARC_CONTROLLER" -n "$ARC_CONTROLLER_NAMESPACE" --ignore-not-found -o 'jsonpath={.status.availableReplicas}' 2>/dev/null)
if [ "${ready:-0}" -gt 0 ] 2>/dev/null; then
  deadline=$((SECONDS + ARC_TIMEOUT_SECONDS))
  while [ -n "$(held)" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 2; done
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
status=0
while read -r kind ns name finalizers; do
  keep=$(printf '%s' "$finalizers" | tr ',' '\n' | grep -v -e 'actions\.github\.com' -e '^$' | sed 's/.*/"&"/' | paste -sd, -)
  if k patch "$kind" "$name" -n "$ns" --type=merge -p "{\"metadata\":{\"finalizers\":[${keep}]}}" >/dev/null; then
    echo "  removed ${finalizers%,} from $kind $ns/$name"
  else
    status=1
  fi
  k delete "$kind" "$name" -n "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
done <<<"$left"
exit $status
