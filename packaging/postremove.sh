#!/bin/sh
# On purge, removes what the package made at run time: the bridgeway user
# and its state (ACME certificates under /var/lib/bridgeway). dpkg itself
# removes the conffiles.
set -e

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
  rm -rf /var/lib/bridgeway
  if getent passwd bridgeway >/dev/null; then
    userdel bridgeway >/dev/null 2>&1 || true
  fi
  if getent group bridgeway >/dev/null; then
    groupdel bridgeway >/dev/null 2>&1 || true
  fi
fi
