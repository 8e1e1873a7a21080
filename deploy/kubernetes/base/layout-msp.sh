#!/bin/sh
# Init container: lays out this pod's local MSP and TLS files, and the organizations'
# MSPs, from the orderer-crypto Secret (made by make-secrets.sh). Secret keys cannot
# hold '/', so make-secrets.sh wrote each file's path with '__' for '/':
#   <identity>__msp__signcerts__cert.pem   this pod's files ($IDENTITY)
#   orgs__<MSP ID>__msp__cacerts__...      every organization's MSP
# Other pods' keys are in the Secret too but are not copied: the orderer container
# mounts only what this script writes.
set -eu
: "${IDENTITY:?IDENTITY must name this pod's identity, e.g. orderer-0.orderer}"
SECRET_DIR=${SECRET_DIR:-/var/run/secrets/orderer-crypto}
LOCAL_DIR=${LOCAL_DIR:-/var/hyperledger/orderer}
ORGS_DIR=${ORGS_DIR:-/var/hyperledger/orgs}

found=0
for f in "$SECRET_DIR"/*; do
  key=$(basename "$f")
  path=$(printf '%s' "$key" | sed 's#__#/#g')
  case "$path" in
    "$IDENTITY"/*) dest="$LOCAL_DIR/${path#"$IDENTITY"/}"; found=1 ;;
    orgs/*) dest="$ORGS_DIR/${path#orgs/}" ;;
    *) continue ;;
  esac
  mkdir -p "$(dirname "$dest")"
  cp "$f" "$dest"
done
if [ "$found" = 0 ]; then
  echo "the orderer-crypto Secret has no files for $IDENTITY: run make-secrets.sh with this replica count" >&2
  exit 1
fi
find "$LOCAL_DIR" -type f \( -name priv_sk -o -name '*.key' \) -exec chmod 600 {} +
echo "local MSP and TLS files of $IDENTITY in $LOCAL_DIR; organizations in $ORGS_DIR"
