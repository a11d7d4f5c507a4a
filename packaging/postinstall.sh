#!/bin/sh
# Creates the bridgeway system user the service runs as, and lets it read
# the config (which may hold upstream credentials) while others cannot.
set -e

if [ "$1" = configure ] || [ "$1" = "" ]; then
  if ! getent passwd bridgeway >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/bridgeway --no-create-home \
      --shell /usr/sbin/nologin --comment "bridgeway gateway" bridgeway
  fi
  chgrp bridgeway /etc/bridgeway/bridgeway.yaml
  chmod 0640 /etc/bridgeway/bridgeway.yaml
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
  fi
fi
