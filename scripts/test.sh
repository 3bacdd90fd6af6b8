#!/usr/bin/env bash
# Runs every test of warroom on a fresh machine: installs what the tests need, builds the
# binary the end-to-end scenarios drive, then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  fi
}

# The auditor scenario runs the README's standard-library Python check.
command -v python3 >/dev/null || apt_install python3
# The console scenarios drive headless Chromium through chromedriver.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  apt_install chromium chromium-driver
fi
# The alert scenarios run Prometheus Alertmanager and a real SMTP server (aiosmtpd) on loopback.
if ! command -v prometheus-alertmanager >/dev/null || ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  apt_install prometheus-alertmanager python3-aiosmtpd
fi
# A scenario has a real Prometheus scrape /metrics and query each headline metric.
command -v prometheus >/dev/null || apt_install prometheus
# The disk scenarios fill a tmpfs and turn an ext4 image on a loop device read-only.
if ! command -v mkfs.ext4 >/dev/null || ! command -v e2fsck >/dev/null; then
  apt_install e2fsprogs
fi
command -v losetup >/dev/null && command -v findmnt >/dev/null || apt_install mount util-linux
# A scenario runs kubectl against the drill (this kind of machine ships it at /usr/bin/kubectl).
command -v kubectl >/dev/null || apt_install kubernetes-client
# The AWS scenarios run moto server (EC2, Auto Scaling, IAM, EKS, S3, STS on loopback) and use
# its boto3 to set up and read back state; both live in a virtualenv. moto is pinned: the calls
# tests/src/moto_server.py adds are written against this version's internals.
MOTO_VERSION=5.2.5
WARROOM_PY="${WARROOM_PY:-/var/tmp/warroom-py}"
export WARROOM_PY
if ! "$WARROOM_PY/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
  rm -rf "$WARROOM_PY"
  python3 -m venv "$WARROOM_PY"
  "$WARROOM_PY/bin/pip" install --quiet "moto[server]==$MOTO_VERSION"
fi
command -v cargo >/dev/null || { echo "cargo is required: https://rustup.rs" >&2; exit 1; }

cargo build --locked -p warroom
cargo test --locked --workspace "$@"
