#!/bin/sh
# The network's crypto material, made once by the `init` service of kafka.yaml with
# the project's own CLI (as Fabric's cryptogen would), into the `crypto` volume:
#
#   $CRYPTO_DIR/OrdererOrg/         the ordering organization ($ORDERER_MSPID): its CA and
#                                   TLS CA (ca/, tlsca/: private keys, keep them off the
#                                   network), its MSP (msp/), and one local MSP and TLS
#                                   key pair per OSN ($ORDERERS) and for `admin`
#   $CRYPTO_DIR/Org1/               a client organization ($CLIENT_MSPID): admin, client
#   $CRYPTO_DIR/orgs/<MSP ID>/msp   both organizations' MSPs, which every OSN mounts
#
# Each OSN mounts only OrdererOrg/<its name> (its own key) and orgs/. The genesis block
# needs no file: every OSN makes the same block 0 from the same orderer.yaml
# (General.BootstrapMethod none), which is why their configuration must not differ.
#
# Runs again harmlessly: existing material is kept (keys must not change under a
# running network). deploy/README.md says how to add an OSN.
set -eu

: "${CRYPTO_DIR:?CRYPTO_DIR must name the crypto volume}"
: "${ORDERERS:?ORDERERS must list the OSNs, comma-separated}"
: "${ORDERER_MSPID:?ORDERER_MSPID must name the ordering organization}"
: "${CLIENT_MSPID:?CLIENT_MSPID must name the client organization}"

if [ -f "$CRYPTO_DIR/.complete" ]; then
  echo "crypto material already in $CRYPTO_DIR; nothing to do"
  exit 0
fi

# A previous run may have stopped half-way: start over in a clean directory.
rm -rf "$CRYPTO_DIR/OrdererOrg" "$CRYPTO_DIR/Org1" "$CRYPTO_DIR/orgs"

orderer-cli msp new --out "$CRYPTO_DIR/OrdererOrg" --mspid "$ORDERER_MSPID" \
  --identities "$ORDERERS,admin"
orderer-cli msp new --out "$CRYPTO_DIR/Org1" --mspid "$CLIENT_MSPID" \
  --identities admin,client

mkdir -p "$CRYPTO_DIR/orgs/$ORDERER_MSPID" "$CRYPTO_DIR/orgs/$CLIENT_MSPID"
cp -R "$CRYPTO_DIR/OrdererOrg/msp" "$CRYPTO_DIR/orgs/$ORDERER_MSPID/msp"
cp -R "$CRYPTO_DIR/Org1/msp" "$CRYPTO_DIR/orgs/$CLIENT_MSPID/msp"

# Private keys readable by their owner only.
find "$CRYPTO_DIR" -name '*key*' -type f -exec chmod 600 {} +
find "$CRYPTO_DIR" -name priv_sk -type f -exec chmod 600 {} +

touch "$CRYPTO_DIR/.complete"
echo "crypto material written to $CRYPTO_DIR"
