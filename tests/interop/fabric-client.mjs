// An independent Fabric client: Hyperledger's own protobuf bindings
// (@hyperledger/fabric-protos), gRPC stack (@grpc/grpc-js) and Node's crypto, sharing
// no code with this project. It signs envelopes like a Fabric SDK (ECDSA P-256 over
// SHA-256, DER, low-S), broadcasts them to an orderer, delivers them back and checks
// Fabric's block rules itself (data hash, DER header hash chain, the orderer's block
// signatures against the MSP's CA). It also checks that unsigned envelopes and
// envelopes signed under a foreign CA are refused.
//
// usage: node fabric-client.mjs HOST:PORT CHANNEL COUNT MSPDIR MSPID FOREIGN_MSPDIR
//   MSPDIR: a local MSP (cacerts/, signcerts/, keystore/) the orderer trusts
//   FOREIGN_MSPDIR: a local MSP under a CA the orderer does not know

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protos from '@hyperledger/fabric-protos';
import { envelope as makeEnvelope, fail, firstFile, loadIdentity, sha256, sign } from './fabric-envelopes.mjs';

const { common, orderer, msp } = protos;
const [server = '127.0.0.1:7050', channel = 'mychannel', countArg = '1000', mspDir, mspId = 'SampleOrg', foreignDir] =
  process.argv.slice(2);
const COUNT = Number(countArg);
if (!mspDir || !foreignDir) {
  console.error('usage: node fabric-client.mjs HOST:PORT CHANNEL COUNT MSPDIR MSPID FOREIGN_MSPDIR');
  process.exit(2);
}

const client = new orderer.AtomicBroadcastClient(server, grpc.credentials.createInsecure(), {
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
});

const identity = loadIdentity(mspDir, mspId);
const foreign = loadIdentity(foreignDir, mspId);
const caCert = new crypto.X509Certificate(firstFile(path.join(mspDir, 'cacerts')));

/** An envelope on this run's channel, signed by this run's identity unless told. */
function envelope(options) {
  return makeEnvelope({ channelId: channel, signer: identity, ...options });
}

/**
 * Fabric's block signature rule: each signature is over the SIGNATURES metadata
 * value, the signature header and the DER block header, by an identity that chains
 * to the orderer organization's CA. The genesis block is not signed.
 */
function checkBlockSignatures(block) {
  const h = block.getHeader();
  const slot = block.getMetadata().getMetadataList_asU8()[common.BlockMetadataIndex.SIGNATURES];
  const meta = common.Metadata.deserializeBinary(slot);
  const sigs = meta.getSignaturesList();
  if (!sigs.length) {
    if (h.getNumber() === 0) return 0;
    fail(`block ${h.getNumber()}: no orderer signature`);
  }
  for (const sig of sigs) {
    const shBytes = Buffer.from(sig.getSignatureHeader_asU8());
    const sh = common.SignatureHeader.deserializeBinary(shBytes);
    const sid = msp.SerializedIdentity.deserializeBinary(sh.getCreator_asU8());
    const cert = new crypto.X509Certificate(Buffer.from(sid.getIdBytes_asU8()));
    if (!cert.verify(caCert.publicKey)) fail(`block ${h.getNumber()}: signer certificate not issued by the MSP's CA`);
    const message = Buffer.concat([Buffer.from(meta.getValue_asU8()), shBytes, derHeader(h)]);
    const ok = crypto.verify('sha256', message, { key: cert.publicKey, dsaEncoding: 'der' }, Buffer.from(sig.getSignature_asU8()));
    if (!ok) fail(`block ${h.getNumber()}: orderer signature does not verify`);
  }
  return sigs.length;
}

/** Sends envelopes on one Broadcast stream; resolves with the responses. */
function broadcast(envs) {
  return new Promise((resolve, reject) => {
    const call = client.broadcast();
    const responses = [];
    call.on('data', (r) => {
      responses.push({ status: r.getStatus(), info: r.getInfo() });
      if (responses.length === envs.length) call.end();
    });
    call.on('error', reject);
    call.on('end', () => resolve(responses));
    for (const e of envs) call.write(e);
  });
}

/** Delivers blocks start..stop (numbers); resolves with blocks and final status. */
function deliver(start, stop) {
  return new Promise((resolve, reject) => {
    const call = client.deliver();
    const blocks = [];
    let status = null;
    call.on('data', (r) => {
      if (r.hasBlock()) blocks.push(r.getBlock());
      else {
        status = r.getStatus();
        call.end();
      }
    });
    call.on('error', reject);
    call.on('end', () => resolve({ blocks, status }));
    const pos = (n) => {
      const p = new orderer.SeekPosition();
      const s = new orderer.SeekSpecified();
      s.setNumber(n);
      p.setSpecified(s);
      return p;
    };
    const info = new orderer.SeekInfo();
    info.setStart(pos(start));
    info.setStop(pos(stop));
    info.setBehavior(orderer.SeekInfo.SeekBehavior.BLOCK_UNTIL_READY);
    const { env } = envelope({ type: common.HeaderType.DELIVER_SEEK_INFO, data: info.serializeBinary() });
    call.write(env);
  });
}

function newestNumber() {
  return new Promise((resolve, reject) => {
    const call = client.deliver();
    call.on('data', (r) => {
      if (r.hasBlock()) resolve(r.getBlock().getHeader().getNumber());
      call.end();
    });
    call.on('error', reject);
    const info = new orderer.SeekInfo();
    const p = new orderer.SeekPosition();
    p.setNewest(new orderer.SeekNewest());
    info.setStart(p);
    info.setStop(p);
    const { env } = envelope({ type: common.HeaderType.DELIVER_SEEK_INFO, data: info.serializeBinary() });
    call.write(env);
  });
}

// DER of SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }.
function derLength(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag, content) {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}
function derInteger(n) {
  let hex = BigInt(n).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let b = Buffer.from(hex, 'hex');
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}
function derHeader(h) {
  const body = Buffer.concat([
    derInteger(h.getNumber()),
    tlv(0x04, Buffer.from(h.getPreviousHash_asU8())),
    tlv(0x04, Buffer.from(h.getDataHash_asU8())),
  ]);
  return tlv(0x30, body);
}
function headerHash(h) {
  return sha256(derHeader(h));
}

async function main() {
  // 1. COUNT envelopes, all SUCCESS.
  const sent = [];
  for (let i = 0; i < COUNT; i++) {
    const data = Buffer.alloc(200, 0x2e);
    data.writeUInt32BE(i, 0);
    sent.push(envelope({ data }));
  }
  const responses = await broadcast(sent.map((s) => s.env));
  if (responses.length !== COUNT) fail(`${responses.length} responses for ${COUNT} envelopes`);
  const bad = responses.filter((r) => r.status !== common.Status.SUCCESS);
  if (bad.length) fail(`${bad.length} not SUCCESS, e.g. ${JSON.stringify(bad[0])}`);
  console.log(`broadcast: ${COUNT} SUCCESS`);

  // 2. Deliver until every tx id is seen; check hashes and order.
  const want = sent.map((s) => s.txId);
  let seen = [];
  let blocks = [];
  for (let attempt = 0; attempt < 100 && seen.length < COUNT; attempt++) {
    const newest = await newestNumber();
    ({ blocks } = await deliver(0, newest));
    seen = [];
    for (const b of blocks) {
      for (const raw of b.getData().getDataList_asU8()) {
        const env = common.Envelope.deserializeBinary(raw);
        const payload = common.Payload.deserializeBinary(env.getPayload_asU8());
        const ch = common.ChannelHeader.deserializeBinary(payload.getHeader().getChannelHeader_asU8());
        if (ch.getType() === common.HeaderType.ENDORSER_TRANSACTION && want.includes(ch.getTxId())) seen.push(ch.getTxId());
      }
    }
    if (seen.length < COUNT) await new Promise((r) => setTimeout(r, 200));
  }
  if (seen.length !== COUNT) fail(`delivered ${seen.length} of ${COUNT} envelopes`);
  if (new Set(seen).size !== COUNT) fail('duplicates delivered');
  if (seen.some((t, i) => t !== want[i])) fail('envelopes delivered out of order');
  let prev = null;
  let signed = 0;
  for (const b of blocks) {
    if (checkBlockSignatures(b) > 0) signed++;
    const h = b.getHeader();
    const dataHash = sha256(...b.getData().getDataList_asU8());
    if (!dataHash.equals(Buffer.from(h.getDataHash_asU8()))) fail(`block ${h.getNumber()}: bad data_hash`);
    if (prev && !headerHash(prev).equals(Buffer.from(h.getPreviousHash_asU8()))) fail(`block ${h.getNumber()}: bad previous_hash`);
    if (b.getMetadata().getMetadataList().length !== 5) fail(`block ${h.getNumber()}: metadata slots != 5`);
    prev = h;
  }
  if (signed !== blocks.length - 1) fail(`${signed} of ${blocks.length - 1} non-genesis blocks signed`);
  console.log(
    `deliver: ${blocks.length} blocks, ${COUNT} envelopes in order, data hashes, DER hash chain and ${signed} orderer signatures valid`,
  );

  // 3. Bad input gets a status with a reason; the orderer keeps serving.
  const garbage = new common.Envelope();
  garbage.setPayload(Buffer.from([0xff, 0xff, 0xff]));
  const tampered = envelope({ data: Buffer.from('x') }).env;
  tampered.setSignature(sign(identity, Buffer.from('something else')));
  const cases = [
    ['garbage', garbage, common.Status.BAD_REQUEST],
    ['no header', envelope({ data: Buffer.from('x'), header: false }).env, common.Status.BAD_REQUEST],
    ['unknown channel', envelope({ channelId: 'no-such-channel', data: Buffer.from('x') }).env, common.Status.NOT_FOUND],
    ['unsigned', envelope({ data: Buffer.from('x'), signer: null }).env, common.Status.FORBIDDEN],
    ['foreign CA', envelope({ data: Buffer.from('x'), signer: foreign }).env, common.Status.FORBIDDEN],
    ['wrong signature', tampered, common.Status.FORBIDDEN],
    ['high-S signature', envelope({ data: Buffer.from('x'), highS: true }).env, common.Status.FORBIDDEN],
    ['good', envelope({ data: Buffer.from('after') }).env, common.Status.SUCCESS],
  ];
  const r = await broadcast(cases.map((c) => c[1]));
  r.forEach((x, i) => {
    const [name, , want] = cases[i];
    if (x.status !== want) fail(`${name}: status ${x.status}, expected ${want} (${x.info})`);
    if (want !== common.Status.SUCCESS && !x.info) fail(`${name}: no reason given`);
    console.log(`${name}: status ${x.status}: ${x.info || 'ok'}`);
  });
  const unsignedSeek = await new Promise((resolve, reject) => {
    const call = client.deliver();
    call.on('data', (m) => {
      if (!m.hasBlock()) {
        resolve(m.getStatus());
        call.end();
      }
    });
    call.on('error', reject);
    const info = new orderer.SeekInfo();
    const p = new orderer.SeekPosition();
    p.setOldest(new orderer.SeekOldest());
    info.setStart(p);
    info.setStop(p);
    call.write(envelope({ type: common.HeaderType.DELIVER_SEEK_INFO, data: info.serializeBinary(), signer: null }).env);
  });
  if (unsignedSeek !== common.Status.FORBIDDEN) fail(`unsigned Deliver: status ${unsignedSeek}, expected FORBIDDEN`);
  console.log(`unsigned deliver: status ${unsignedSeek}`);
  const again = await broadcast([envelope({ data: Buffer.from('still serving') }).env]);
  if (again[0].status !== common.Status.SUCCESS) fail('orderer stopped serving after bad input');
  console.log('PASS');
  client.close();
}

main().catch((e) => fail(e.stack || String(e)));
