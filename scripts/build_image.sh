#!/usr/bin/env bash
# Build paperbot's image without an image registry, run it, and print what it cost.
#
# The Dockerfile's base defaults to python:3.11-slim. Where no registry can be reached, this
# script makes an equivalent base from Debian's own packages: a minimal bookworm root file
# system (debootstrap), imported into podman. The Dockerfile installs python3 and venv on a
# base that lacks them, so the same file builds on either base.
#
# Then it checks the image as documented: `paperbot --version`, `paperbot doctor` with
# environment variables only (no config file), the HEALTHCHECK of a running container, a
# clean exit on SIGTERM, and a config file mounted read-only at /config/paperbot.toml.
# Figures: the base, the first build, a rebuild after a change to paperbot's code (the
# dependency layer is cached, so it must be a small fraction of the first build), the size.
#
# Usage: scripts/build_image.sh            (as root, with podman and debootstrap installed)
#   DEBIAN_MIRROR=URL  the mirror debootstrap uses (default: the first one apt is set up with)
#   WORK=DIR           where the root file system is made (default: a temporary folder)
#   KEEP_BASE=1        reuse an already imported base image
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE_IMAGE=localhost/paperbot-base:bookworm
IMAGE=localhost/paperbot:local
WORK=${WORK:-$(mktemp -d /tmp/paperbot-image.XXXXXX)}
mkdir -p "$WORK"
NAME=paperbot-check-$$

# The OCI runtime and limits: this machine's kernel mounts cgroups in a way crun refuses,
# and a container may not raise a resource limit, so runc (when installed) and limits no
# higher than the host's are used. Both can be overridden.
RUNTIME=${RUNTIME:-$(command -v runc >/dev/null && echo runc || echo crun)}
LIMITS=(--ulimit "nofile=${NOFILE:-4096}:${NOFILE:-4096}" --ulimit "nproc=${NPROC:-4096}:${NPROC:-4096}")
podman() { command podman --runtime "$RUNTIME" "$@"; }

say() { printf '%s\n' "build_image: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    rm -rf "$WORK/rootfs" "$WORK/context"
}
trap cleanup EXIT

command -v podman >/dev/null || fail "podman is not installed (apt-get install -y podman debootstrap)"

mirror() {
    if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    # The mirror apt already uses is the one known to be reachable from here.
    local uri
    uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -v security | head -n1 | awk '{ print $2 }')
    [[ -n "$uri" ]] || fail "no Debian mirror found in apt's sources; set DEBIAN_MIRROR"
    echo "$uri"
}

# -- 1. the base: Debian bookworm, minimal, from Debian's packages --------------------------
t0=$(now)
if [[ "${KEEP_BASE:-}" == 1 ]] && podman image exists "$BASE_IMAGE"; then
    say "reusing $BASE_IMAGE"
else
    command -v debootstrap >/dev/null || fail "debootstrap is not installed"
    say "debootstrap bookworm into $WORK/rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" "$(mirror)" \
        >"$WORK/debootstrap.log" 2>&1 || { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
    # What a slim image leaves out: package lists, downloaded packages, documentation
    # (and, through dpkg's excludes, the documentation of every package installed later).
    rm -rf "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/var/cache/apt/"*.bin \
        "$WORK/rootfs/var/cache/apt/archives/"*.deb \
        "$WORK/rootfs/usr/share/doc/"* "$WORK/rootfs/usr/share/man/"* "$WORK/rootfs/usr/share/info/"*
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
        >"$WORK/rootfs/etc/dpkg/dpkg.cfg.d/excludes"
    printf '%s\n' 'APT::Keep-Downloaded-Packages "false";' \
        >"$WORK/rootfs/etc/apt/apt.conf.d/docker-clean"
    tar -C "$WORK/rootfs" -c . | podman import \
        --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
fi
t_base=$(elapsed "$t0" "$(now)")

# -- 2. the image, twice: from scratch, then after a change to the code ---------------------
# The build context is what .dockerignore lets through; a copy, so the rebuild can change a
# source file without touching the checkout.
mkdir -p "$WORK/context"
tar -C "$ROOT" --exclude-vcs --exclude=.venv --exclude=data -c . | tar -C "$WORK/context" -x

# pip inside the build trusts what pip here trusts (a proxy's CA, say): the bundle is
# mounted for the build only, never copied into the image.
CERT_ARGS=()
host_cert=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
if [[ -n "$host_cert" && -f "$host_cert" ]]; then
    CERT_ARGS=(-v "$host_cert:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)
fi

build() {
    local name=$1
    shift
    # Docker format: the OCI format has no HEALTHCHECK. Host network: the build installs
    # from Debian's packages and PyPI.
    podman build --format docker --network host "${LIMITS[@]}" "${CERT_ARGS[@]}" "$@" \
        --build-arg "BASE=$BASE_IMAGE" \
        -t "$IMAGE" "$WORK/context" >"$WORK/build-$name.log" 2>&1 \
        || { tail -n 30 "$WORK/build-$name.log" >&2; fail "podman build ($name)"; }
}

t0=$(now)
build first --no-cache  # every layer, as on a machine that never built it
t_first=$(elapsed "$t0" "$(now)")

printf '\n# a change to the code\n' >>"$WORK/context/bot/__init__.py"
t0=$(now)
build rebuild
t_rebuild=$(elapsed "$t0" "$(now)")
# The promise of the dependency layer: a code change reuses it.
awk '/pip install -r/ { getline; print; exit }' "$WORK/build-rebuild.log" | grep -q "Using cache" \
    || fail "a change to the code rebuilt the dependency layer"

# -- 3. the image as documented -------------------------------------------------------------
version=$(podman run "${LIMITS[@]}" --rm --network none "$IMAGE" paperbot --version) || fail "paperbot --version"
[[ "$version" == paperbot\ * ]] || fail "paperbot --version printed: $version"
say "$version"

user=$(podman run "${LIMITS[@]}" --rm --network none "$IMAGE" id -u)
[[ "$user" != 0 ]] || fail "the image runs as root"

# Environment variables only: no config file anywhere, data on the /data volume.
ENVS=(-e PAPERBOT_ARXIV__CONTACT=mailto:ops@example.org -e PAPERBOT_ARXIV__POLL_ON_START=false
      -e PAPERBOT_MODEL__ENABLED=false)
podman run "${LIMITS[@]}" --rm --network none "${ENVS[@]}" "$IMAGE" paperbot doctor \
    || fail "paperbot doctor (environment only) exited $?"

healthcheck=$(podman image inspect --format '{{json .HealthCheck}}' "$IMAGE")
[[ "$healthcheck" == *doctor* ]] || fail "no HEALTHCHECK running paperbot doctor: $healthcheck"

# The service itself: running, healthy, and a clean exit on SIGTERM (docker stop).
podman run "${LIMITS[@]}" -d --name "$NAME" --network none "${ENVS[@]}" "$IMAGE" paperbot run --no-discord >/dev/null
sleep 5
[[ $(podman inspect --format '{{.State.Running}}' "$NAME") == true ]] \
    || { podman logs "$NAME" >&2; fail "paperbot run --no-discord did not keep running"; }
podman healthcheck run "$NAME" || { podman logs "$NAME" >&2; fail "the health check failed"; }
podman exec "$NAME" paperbot doctor --quiet --service || fail "paperbot doctor --quiet --service inside the container"
podman exec "$NAME" test -f /data/paperbot.db || fail "no catalog on the /data volume"
podman stop -t 20 "$NAME" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
[[ "$code" == 0 ]] || { podman logs "$NAME" >&2; fail "paperbot run exited $code on SIGTERM"; }
podman rm "$NAME" >/dev/null

# A config file mounted read-only at /config/paperbot.toml, with a relative rules path.
mkdir -p "$WORK/config"
cp "$ROOT/feeds/default_rules.toml" "$WORK/config/rules.toml"
cat >"$WORK/config/paperbot.toml" <<'EOF'
[arxiv]
contact = "mailto:ops@example.org"
[catalog]
rules = "rules.toml"
[model]
enabled = false
EOF
podman run "${LIMITS[@]}" --rm --network none -v "$WORK/config:/config:ro" "$IMAGE" paperbot doctor \
    || fail "paperbot doctor with /config/paperbot.toml"

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "base image (debootstrap + import): ${t_base} s"
echo "first build: ${t_first} s"
echo "rebuild after a code change: ${t_rebuild} s"
awk -v a="$t_rebuild" -v b="$t_first" 'BEGIN { printf "rebuild / first build: %.3f\n", a / b }'
awk -v s="$size" 'BEGIN { printf "image size: %.0f MB\n", s / 1e6 }'
echo "image: $IMAGE (checks passed)"
