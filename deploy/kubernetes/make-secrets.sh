#!/bin/sh
# Makes the crypto material of the Kubernetes OSNs with orderer-cli (as cryptogen
# would) into DIR, and prints the orderer-crypto Secret that base/ mounts:
#
#   deploy/kubernetes/make-secrets.sh DIR [REPLICAS] | kubectl apply -n ordering -f -
#
# DIR keeps the CAs' private keys (DIR/*/ca, DIR/*/tlsca): keep it off the cluster.
# Run again with an existing DIR, it reuses the material and prints the Secret
# again (after adding identities with REPLICAS, see deploy/README.md).
# Identities are named orderer-N.orderer (pod N under the headless Service
# `orderer`): their TLS certificates name that host, localhost and 127.0.0.1.
set -eu
dir=${1:?usage: make-secrets.sh DIR [REPLICAS]}
replicas=${2:-3}
: "${ORDERER_CLI:=orderer-cli}"
: "${KUBECTL:=kubectl}"

names=""
i=0
while [ "$i" -lt "$replicas" ]; do
  names="${names}orderer-$i.orderer,"
  i=$((i + 1))
done

if [ ! -d "$dir/OrdererOrg/ca" ]; then
  "$ORDERER_CLI" msp new --out "$dir/OrdererOrg" --mspid OrdererMSP --identities "${names}admin" >&2
  "$ORDERER_CLI" msp new --out "$dir/Org1" --mspid Org1MSP --identities admin,client >&2
fi

# Secret keys cannot hold '/': a file's path is written with '__' (layout-msp.sh in
# the pod reverses it). Only the OSNs' own directories and the organizations' MSPs.
args=""
add() { # add KEY_PREFIX DIR: every file under DIR
  for f in $(cd "$2" && find . -type f | sort); do
    rel=${f#./}
    args="$args --from-file=$1__$(printf '%s' "$rel" | sed 's#/#__#g')=$2/$rel"
  done
}
i=0
while [ "$i" -lt "$replicas" ]; do
  name="orderer-$i.orderer"
  if [ ! -d "$dir/OrdererOrg/$name" ]; then
    echo "no identity $name in $dir/OrdererOrg: issue it with a new DIR or orderer-cli msp" >&2
    exit 1
  fi
  add "$name" "$dir/OrdererOrg/$name"
  i=$((i + 1))
done
add orgs__OrdererMSP__msp "$dir/OrdererOrg/msp"
add orgs__Org1MSP__msp "$dir/Org1/msp"
# shellcheck disable=SC2086 # the arguments hold no spaces (paths made above)
"$KUBECTL" create secret generic orderer-crypto --dry-run=client -o yaml $args
