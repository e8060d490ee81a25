#!/usr/bin/env bash
# Installs what Streetwatch runs on and what its test suite starts: PostgreSQL with the
# TimescaleDB extension (Apache-2 edition, built from Debian's source package), Mosquitto,
# and the tools the tests use (socat for serial pairs, mbpoll as an independent Modbus client,
# Chromium for the console's browser tests, with a Chinese font so its screenshots show Chinese text
# rather than empty boxes).
#
# Idempotent: every step checks first and is skipped when already done.
# Debian/Ubuntu only; needs root (or sudo).
#
#   sudo deploy/install-services.sh            # install everything missing
#   deploy/install-services.sh --check         # exit 0 if nothing is missing, 1 otherwise
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
# Debian trixie carries TimescaleDB 2.19.x, which still supports PostgreSQL 15.
TSDB_SOURCE_SUITE="${TSDB_SOURCE_SUITE:-trixie}"
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
PG_CONFIG="${PG_BIN}/pg_config"
SOURCES_FILE=/etc/apt/sources.list.d/streetwatch-timescaledb-src.sources

log() { printf 'install-services: %s\n' "$*"; }

timescaledb_installed() {
  [ -x "$PG_CONFIG" ] || return 1
  local libdir sharedir
  libdir=$("$PG_CONFIG" --pkglibdir)
  sharedir=$("$PG_CONFIG" --sharedir)
  [ -f "$sharedir/extension/timescaledb.control" ] && ls "$libdir"/timescaledb*.so >/dev/null 2>&1
}

missing() {
  local what=()
  [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/postgres" ] || what+=("postgresql-$PG_MAJOR")
  timescaledb_installed || what+=("timescaledb")
  command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || what+=("mosquitto")
  command -v socat >/dev/null 2>&1 || what+=("socat")
  command -v mbpoll >/dev/null 2>&1 || what+=("mbpoll")
  [ -x /usr/bin/chromium ] || what+=("chromium")
  # Without a CJK font headless Chromium draws every Chinese character as an empty box.
  [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || what+=("fonts-wqy-microhei")
  printf '%s\n' "${what[@]:-}"
}

if [ "${1:-}" = "--check" ]; then
  m=$(missing | tr '\n' ' ' | sed 's/ *$//')
  if [ -n "$m" ]; then log "missing: $m"; exit 1; fi
  log "everything is installed"; exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E "$0" "$@"; fi
  log "needs root (or sudo) to install packages"; exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_update() { if [ "$apt_updated" -eq 0 ]; then apt-get update -qq; apt_updated=1; fi; }

packages=()
for pkg in "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" mosquitto mosquitto-clients \
           socat mbpoll chromium fonts-wqy-microhei cmake libssl-dev build-essential dpkg-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || packages+=("$pkg")
done
if [ ${#packages[@]} -gt 0 ]; then
  log "installing ${packages[*]}"
  apt_update
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
else
  log "distribution packages already installed"
fi

if timescaledb_installed; then
  log "TimescaleDB extension already installed for PostgreSQL $PG_MAJOR"
else
  # A private deb-src entry: only source packages come from it, so no binary from a newer
  # release can be pulled into this system by accident.
  if [ ! -f "$SOURCES_FILE" ]; then
    log "adding deb-src for $TSDB_SOURCE_SUITE in $SOURCES_FILE"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "/usr/share/keyrings/debian-archive-${TSDB_SOURCE_SUITE}-stable.gpg" ] && \
      keyring="/usr/share/keyrings/debian-archive-${TSDB_SOURCE_SUITE}-stable.gpg"
    cat >"$SOURCES_FILE" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $TSDB_SOURCE_SUITE
Components: main
Signed-By: $keyring
SRC
    apt_updated=0
  fi
  apt_update
  build_dir=$(mktemp -d /tmp/streetwatch-timescaledb.XXXXXX)
  chmod 755 "$build_dir"; id _apt >/dev/null 2>&1 && chown _apt "$build_dir"
  trap 'rm -rf "$build_dir"' EXIT
  log "fetching the timescaledb source package into $build_dir"
  (cd "$build_dir" && apt-get source -qq --download-only timescaledb >/dev/null \
     && dpkg-source -x --skip-patches ./*.dsc src >/dev/null)
  log "building TimescaleDB (Apache-2 edition) for PostgreSQL $PG_MAJOR"
  (cd "$build_dir/src" \
     && ./bootstrap -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
          -DWARNINGS_AS_ERRORS=OFF -DPG_CONFIG="$PG_CONFIG" >/dev/null 2>&1 \
     && make -C build -j"$(nproc)" install >/dev/null)
  timescaledb_installed || { log "TimescaleDB build finished but the extension is not in place"; exit 1; }
  log "TimescaleDB installed: $(ls "$("$PG_CONFIG" --pkglibdir)"/timescaledb-*.so | head -1)"
fi

log "done"
