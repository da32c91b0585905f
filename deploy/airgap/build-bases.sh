#!/usr/bin/env bash
# The air-gapped build: the base images the Dockerfile and compose file name, made from Debian
# packages alone (no container registry needed), and tagged with those names so both files run
# unchanged (docs/operations.md#air-gapped-build).
#
#   debian:bookworm-slim  debootstrap --variant=minbase bookworm, from the Debian mirror this
#                         machine's apt sources name, imported with `docker import`
#   python:3.11-slim      Debian's python3.11 with a venv at /usr/local (/usr/local/bin/python, pip)
#                         and this machine's extra certificate authorities
#   postgres:15           Debian's postgresql-15 with an entrypoint honouring POSTGRES_USER,
#                         POSTGRES_PASSWORD, POSTGRES_DB and /docker-entrypoint-initdb.d/
#   nginx:1.27            Debian's nginx (1.22 with Debian's security fixes) as the gateway
#
# Runs as root (debootstrap). Uses `docker` from PATH (DOCKER_HOST is honoured); builds use the host
# network, since a daemon started with --bridge=none gives build steps none. Environment:
#   DEBIAN_MIRROR            override the mirror read from /etc/apt/sources.list{,.d}
#   DEVZONES_AIRGAP_CACHE    a folder in which to keep the debootstrap tarball between runs (keyed by
#                            mirror, suite, variant, architecture and week); unset: no cache
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suite=bookworm
docker_cmd=${DOCKER:-docker}

# "URI SUITE" for each deb source of this machine (one-line .list files and deb822 .sources files).
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i + 1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      { types = ""; uris = ""; suites = ""
        for (j = 1; j <= NF; j++) {
          if ($j ~ /^Types:/) types = $j; else if ($j ~ /^URIs:/) uris = $j
          else if ($j ~ /^Suites:/) suites = $j; else if ($j ~ /^Enabled:[ \t]*no/) types = "off" }
        if (types !~ /^Types:.*[ \t]deb([ \t]|$)/) next
        sub(/^URIs:[ \t]*/, "", uris); sub(/^Suites:[ \t]*/, "", suites)
        n = split(uris, u, /[ \t]+/); m = split(suites, s, /[ \t]+/)
        for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a], s[b] }' "$f"
  done
}

source_for() { apt_sources | awk -v want="$1" '$2 == want { print $1; exit }'; }

mirror=${DEBIAN_MIRROR:-$(source_for "$suite")}
if [ -z "$mirror" ]; then
  echo "no Debian mirror for $suite in /etc/apt/sources.list{,.d}; set DEBIAN_MIRROR" >&2
  exit 1
fi
security=$(source_for "$suite-security")
mirror=${mirror%/}
arch=$(dpkg --print-architecture)
echo "air-gapped bases: Debian $suite ($arch) from $mirror${security:+, security updates from $security}" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/devzones-airgap.XXXXXX")
rootfs="$work/rootfs"
cleanup() {
  local m
  # debootstrap mounts /proc and /sys in the target while it works; never leave one behind.
  for m in $(awk -v r="$rootfs" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

tarball="$work/debian.tar"
cached=""
if [ -n "${DEVZONES_AIRGAP_CACHE:-}" ]; then
  key=$(printf '%s %s minbase %s %s %s' "$mirror" "$suite" "$arch" "${security:-}" "$(date -u +%G-%V)" | sha256sum | cut -c1-16)
  cached="$DEVZONES_AIRGAP_CACHE/debian-$suite-minbase-$arch-$key.tar"
fi
if [ -n "$cached" ] && [ -s "$cached" ]; then
  echo "debootstrap: reusing $cached" >&2
  tarball=$cached
else
  mkdir -p "$rootfs"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
  }
  {
    echo "deb $mirror $suite main"
    echo "deb $mirror $suite-updates main"
    [ -z "$security" ] || echo "deb ${security%/} $suite-security main"
  } >"$rootfs/etc/apt/sources.list"
  # As Debian's own images: no documentation or caches, apt keeps no downloaded packages.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90devzones"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar --numeric-owner -C "$rootfs" -cf "$tarball" .
  if [ -n "$cached" ]; then
    mkdir -p "$(dirname "$cached")"
    cp "$tarball" "$cached.part" && mv "$cached.part" "$cached"
  fi
fi
"$docker_cmd" import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" "debian:$suite-slim" >/dev/null

# The machine's extra certificate authorities (none on most machines) go into the Python base.
cas="$work/ca-certificates"
mkdir -p "$cas"
if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then cp -r /usr/local/share/ca-certificates/. "$cas/"; fi
cp "$here/python.Dockerfile" "$cas/Dockerfile"
"$docker_cmd" build -q --network host -t python:3.11-slim "$cas" >/dev/null
"$docker_cmd" build -q --network host -t postgres:15 -f "$here/postgres.Dockerfile" "$here" >/dev/null
"$docker_cmd" build -q --network host -t nginx:1.27 -f "$here/nginx.Dockerfile" "$here" >/dev/null
echo "air-gapped bases built: debian:$suite-slim python:3.11-slim postgres:15 nginx:1.27" >&2
