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

if [ "${INSTALL_VENV:-1}" = 1 ]; then
  [[ "$extras" == *agent* ]] && { dpkg -s libasound2-dev >/dev/null 2>&1 || apt-get install -y libasound2-dev gcc; }
  python3 -m venv "$prefix"
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
