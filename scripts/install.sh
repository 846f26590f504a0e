#!/usr/bin/env bash
# Installs the gateway and/or the device agent as systemd services on this box.
#
#   sudo scripts/install.sh gateway        # or: agent, or: both, or: console
#   sudo FRONT_END=1 scripts/install.sh agent   # with the optional speech front end
#                                               # (noise suppression, gain, pymicro-vad)
#
# Puts a virtualenv in /opt/edge-audio-ingress, example settings in /etc/edge-audio-ingress
# (never overwriting existing ones), the units in /etc/systemd/system, and enables them.
# The services run as systemd DynamicUsers: no account to create. Overridable for a dry run:
# ROOT (prefix for every path), SYSTEMCTL (e.g. "true"), INSTALL_VENV=0.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-}
case "$what" in
  gateway) units=(edge-gateway); extras=gateway ;;
  agent) units=(device-agent); extras=agent ;;
  both) units=(edge-gateway device-agent); extras=gateway,agent ;;
  console) units=(edge-console); extras=console ;;
  *) echo "usage: $0 gateway|agent|both|console" >&2; exit 2 ;;
esac

ROOT=${ROOT:-}
SYSTEMCTL=${SYSTEMCTL:-systemctl}
prefix="$ROOT/opt/edge-audio-ingress"
etc="$ROOT/etc/edge-audio-ingress"
unit_dir="$ROOT/etc/systemd/system"

[[ "$extras" == *agent* && "${FRONT_END:-0}" = 1 ]] && extras="$extras,front-end"

# What a fresh Debian box lacks, from apt (an update first, only when something is missing):
# venv (ensurepip) always; for the agent the headers and compiler pyalsaaudio builds with
# (it has no wheel anywhere). On armhf, where PyPI has no wheel of numpy or PyNaCl, Debian's
# are used (a venv with the system's site packages) instead of compiling them (numpy for
# tens of minutes; PyNaCl with its own libsodium, and the cffi it needs).
arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
apt_packages=(python3 python3-venv)
venv_options=()
if [[ "$extras" == *agent* ]]; then
  apt_packages+=(python3-dev gcc libasound2-dev)
  if [ "$arch" = armhf ]; then
    apt_packages+=(g++ python3-numpy python3-nacl python3-cffi)
    venv_options+=(--system-site-packages)
  fi
fi
if [ "${INSTALL_VENV:-1}" = 1 ]; then
  missing=()
  for package in "${apt_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if ((${#missing[@]})); then
    echo "install: installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  python3 -m venv "${venv_options[@]}" "$prefix"
  "$prefix/bin/pip" install -q --upgrade pip
  "$prefix/bin/pip" install -q ".[${extras}]"
fi

install -d -m 0755 "$etc" "$unit_dir"
for unit in "${units[@]}"; do
  case "$unit" in
    edge-gateway) env_name=gateway ;; edge-console) env_name=console ;; *) env_name=agent ;;
  esac
  if [ ! -e "$etc/$env_name.env" ]; then
    install -m 0640 "systemd/$env_name.env.example" "$etc/$env_name.env"
    echo "install: wrote $etc/$env_name.env — edit it before starting"
  fi
  install -m 0644 "systemd/$unit.service" "$unit_dir/$unit.service"
done
if [[ " ${units[*]} " == *" device-agent "* ]] && [ ! -e "$etc/device.jwt" ]; then
  # LoadCredential= needs the file; empty means no token (auth off on the gateway).
  install -m 0600 /dev/null "$etc/device.jwt"
  echo "install: wrote an empty $etc/device.jwt — put the device's token there if auth is on"
fi

"$SYSTEMCTL" daemon-reload
"$SYSTEMCTL" enable "${units[@]/%/.service}"
echo "install: enabled ${units[*]}; start with: systemctl start ${units[*]/%/.service}"
