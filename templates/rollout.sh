#!/bin/sh
# rollout.sh rolls one mapped Deployment to a pushed image.
#
# Trusted input: SERVICE (a constant in the Sensor trigger, taken from the
# mapping) and the cache entry $CACHE_DIR/$SERVICE (key=value lines written
# by argodeploy). Event input (DIGEST, TAG, PUBLISHED_AT) arrives through the
# environment and is checked before use; nothing from an event names what
# to roll.
#
# Exit codes: 0 rolled out or nothing to do; 1 transient failure (the
# workflow retries); 2 permanent failure (not retried); 3 the rollout did not
# become healthy within ROLLOUT_TIMEOUT and was undone.
set -u

log() { printf 'argodeploy: %s\n' "$*" >&2; }
fail() {
    code=$1
    shift
    log "$*"
    exit "$code"
}

# kubectl_failed maps a kubectl error text to an exit code: API answers that
# retrying cannot fix are permanent, everything else (timeouts, connection
# resets, conflicts) is transient.
kubectl_failed() {
    case "$1" in
    *NotFound* | *"not found"* | *Forbidden* | *forbidden* | *Invalid* | *"is invalid"*) return 2 ;;
    *) return 1 ;;
    esac
}

# newer succeeds when the decimal number $1 is greater than $2.
newer() {
    [ -z "$2" ] && return 0
    [ "${#1}" -gt "${#2}" ] && return 0
    [ "${#1}" -lt "${#2}" ] && return 1
    [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | LC_ALL=C sort | tail -n 1)" = "$1" ]
}

# json_string prints $1 as a JSON string, or null when it is empty. Values
# reaching it are checked against strict patterns first, so no escaping is
# needed beyond the quotes.
json_string() {
    if [ -z "$1" ]; then printf 'null'; else printf '"%s"' "$1"; fi
}

case "${SERVICE:-}" in
'' | *[!a-z0-9-]*) fail 2 "invalid service name '${SERVICE:-}'" ;;
esac
entry="${CACHE_DIR:-/etc/argodeploy/cache}/$SERVICE"
[ -r "$entry" ] || fail 2 "service $SERVICE has no entry in the cache ConfigMap"

field() { sed -n "s/^$1=//p" "$entry" | head -n 1; }
image=$(field image)
deployment=$(field deployment)
namespace=$(field namespace)
container=$(field container)
strategy=$(field strategy)
[ -n "$image" ] && [ -n "$deployment" ] && [ -n "$namespace" ] && [ -n "$container" ] ||
    fail 2 "cache entry for $SERVICE is incomplete"

# The Sensor's filters admit only these shapes; check again, event text is untrusted.
DIGEST=${DIGEST:-}
TAG=${TAG:-}
PUBLISHED_AT=${PUBLISHED_AT:-}
case "$DIGEST" in
"$image@sha256:"*) ;;
*) fail 2 "digest '$DIGEST' is not an image of $image" ;;
esac
hex=${DIGEST#"$image@sha256:"}
case "$hex" in *[!a-f0-9]*) fail 2 "digest '$DIGEST' is malformed" ;; esac
[ "${#hex}" -eq 64 ] || fail 2 "digest '$DIGEST' is malformed"
case "$PUBLISHED_AT" in '' | *[!0-9]*) fail 2 "publish time '$PUBLISHED_AT' is not a number" ;; esac
[ "${#PUBLISHED_AT}" -le 19 ] || fail 2 "publish time '$PUBLISHED_AT' is out of range"

if [ -r "${KUBECONFIG_DIR:-/etc/argodeploy/kubeconfig}/config" ]; then
    KUBECONFIG="${KUBECONFIG_DIR:-/etc/argodeploy/kubeconfig}/config"
    export KUBECONFIG
fi
errors="${TMPDIR:-/tmp}/argodeploy-kubectl.err"
target="deployment/$deployment in namespace $namespace"
log "service $SERVICE: $TAG ($DIGEST) -> $target, strategy $strategy"
while IFS='=' read -r key value; do
    case "$key" in meta.*) log "metadata ${key#meta.}: $value" ;; esac
done <"$entry"

state=$(kubectl --namespace "$namespace" get deployment "$deployment" -o "jsonpath={.spec.template.metadata.annotations.argodeploy\.dev/digest}{\"|\"}{.spec.template.metadata.annotations.argodeploy\.dev/published-at}{\"|\"}{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}{\"|\"}{.spec.template.spec.containers[?(@.name==\"$container\")].image}{\"\n\"}" 2>"$errors")
status=$?
if [ "$status" -ne 0 ]; then
    kubectl_failed "$(cat "$errors")"
    fail $? "reading $target: $(cat "$errors")"
fi
IFS='|' read -r previous_digest previous_published previous_restarted previous_image <<EOF
$state
EOF
[ -n "$previous_image" ] || fail 2 "$target has no container named $container"

wait_for_rollout() {
    kubectl --namespace "$namespace" rollout status deployment "$deployment" --timeout "${ROLLOUT_TIMEOUT:-5m}"
}

if [ "$previous_digest" = "$DIGEST" ]; then
    log "$target already runs $DIGEST; waiting for it to be healthy"
    wait_for_rollout || fail 2 "$target at $DIGEST is not healthy; not undoing a rollout this run did not start"
    exit 0
fi
if ! newer "$PUBLISHED_AT" "$previous_published"; then
    log "$target already has a newer push (published at $previous_published); skipping $DIGEST"
    exit 0
fi

# patch_template prints a strategic merge patch of the pod template.
patch_template() { # digest published restarted image
    printf '{"spec":{"template":{"metadata":{"annotations":{"argodeploy.dev/digest":%s,"argodeploy.dev/published-at":%s,"kubectl.kubernetes.io/restartedAt":%s}}' \
        "$(json_string "$1")" "$(json_string "$2")" "$(json_string "$3")"
    if [ "$strategy" = set-image ]; then
        printf ',"spec":{"containers":[{"name":"%s","image":"%s"}]}' "$container" "$4"
    fi
    printf '}}}'
}

restarted=$previous_restarted
[ "$strategy" = set-image ] || restarted=$(date -u +%Y-%m-%dT%H:%M:%SZ)
out=$(kubectl --namespace "$namespace" patch deployment "$deployment" --type strategic \
    -p "$(patch_template "$DIGEST" "$PUBLISHED_AT" "$restarted" "$DIGEST")" 2>&1)
status=$?
if [ "$status" -ne 0 ]; then
    kubectl_failed "$out"
    fail $? "patching $target: $out"
fi
log "$out"

if wait_for_rollout; then
    log "$target rolled out $DIGEST"
    exit 0
fi
log "$target did not become healthy within ${ROLLOUT_TIMEOUT:-5m}; undoing"
out=$(kubectl --namespace "$namespace" patch deployment "$deployment" --type strategic \
    -p "$(patch_template "$previous_digest" "$previous_published" "$previous_restarted" "$previous_image")" 2>&1) ||
    fail 2 "undo of $target failed, it needs a human: $out"
fail 3 "$target was returned to its previous pod template"
