// Fabric envelopes as an SDK builds them, with Node's crypto and Hyperledger's own
// protobuf bindings: identities from a local MSP, ECDSA P-256 / SHA-256 signatures
// in Fabric's low-S form, signed envelopes. Shared by fabric-client.mjs and
// fanout.mjs.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import protos from '@hyperledger/fabric-protos';
import timestampPb from 'google-protobuf/google/protobuf/timestamp_pb.js';

const { common, msp } = protos;

export function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

export function sha256(...parts) {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function firstFile(dir) {
  const names = fs.readdirSync(dir).sort();
  if (!names.length) fail(`${dir} is empty`);
  return fs.readFileSync(path.join(dir, names[0]));
}

/** A signing identity from a local MSP directory. */
export function loadIdentity(dir, id) {
  const certPem = firstFile(path.join(dir, 'signcerts'));
  const key = crypto.createPrivateKey(firstFile(path.join(dir, 'keystore')));
  const sid = new msp.SerializedIdentity();
  sid.setMspid(id);
  sid.setIdBytes(certPem);
  return { key, creator: Buffer.from(sid.serializeBinary()), cert: new crypto.X509Certificate(certPem) };
}

// P-256 group order, for Fabric's low-S rule.
const N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

function derInt(v) {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let b = Buffer.from(hex, 'hex');
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

/** Splits a DER ECDSA signature into r and s. */
function parseSig(der) {
  let i = 2;
  const read = () => {
    const len = der[i + 1];
    const v = BigInt('0x' + der.subarray(i + 2, i + 2 + len).toString('hex'));
    i += 2 + len;
    return v;
  };
  return [read(), read()];
}

function encodeSig(r, s) {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** ECDSA P-256 / SHA-256, DER; `highS` returns the other, high-S, form. */
export function sign(identity, bytes, { highS = false } = {}) {
  const der = crypto.sign('sha256', bytes, { key: identity.key, dsaEncoding: 'der' });
  let [r, s] = parseSig(der);
  const low = s > N / 2n ? N - s : s;
  return encodeSig(r, highS ? N - low : low);
}

export function channelHeader(type, channelId, txId) {
  const ch = new common.ChannelHeader();
  ch.setType(type);
  ch.setChannelId(channelId);
  ch.setTxId(txId);
  const ts = new timestampPb.Timestamp();
  ts.setSeconds(Math.floor(Date.now() / 1000));
  ch.setTimestamp(ts);
  return ch.serializeBinary();
}

/**
 * An envelope signed by `signer` (null: unsigned, no creator), the way Fabric SDKs
 * build them: tx id = hex(SHA-256(nonce || creator)).
 */
export function envelope({
  type = common.HeaderType.ENDORSER_TRANSACTION,
  channelId,
  data,
  header = true,
  signer,
  highS = false,
}) {
  const nonce = crypto.randomBytes(24);
  const creator = signer ? signer.creator : Buffer.alloc(0);
  const txId = sha256(nonce, creator).toString('hex');
  const payload = new common.Payload();
  if (header) {
    const h = new common.Header();
    h.setChannelHeader(channelHeader(type, channelId, txId));
    const sh = new common.SignatureHeader();
    sh.setCreator(creator);
    sh.setNonce(nonce);
    h.setSignatureHeader(sh.serializeBinary());
    payload.setHeader(h);
  }
  payload.setData(data);
  const env = new common.Envelope();
  const bytes = payload.serializeBinary();
  env.setPayload(bytes);
  if (signer) env.setSignature(sign(signer, bytes, { highS }));
  return { env, txId };
}
