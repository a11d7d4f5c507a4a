#!/bin/sh
# Creates the bridgeway system user the service runs as; on first install
# lets it read the config (which may hold upstream credentials) while other
# users cannot. On upgrade a running service is restarted on the new binary.
set -e

if [ "$1" = configure ] || [ "$1" = "" ]; then
  if ! getent passwd bridgeway >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/bridgeway --no-create-home \
      --shell /usr/sbin/nologin --comment "bridgeway gateway" bridgeway
  fi
  # $2 is the version configured before; empty on a first install, so an
  # operator's own mode or group survives upgrades.
  if [ -z "$2" ]; then
    chgrp bridgeway /etc/bridgeway/bridgeway.yaml
    chmod 0640 /etc/bridgeway/bridgeway.yaml
  fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    if [ -n "$2" ]; then
      systemctl try-restart bridgeway.service >/dev/null || true
    fi
  fi
fi
