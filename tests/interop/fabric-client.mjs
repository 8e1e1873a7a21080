// An independent Fabric client: Hyperledger's own protobuf bindings
// (@hyperledger/fabric-protos) and gRPC stack (@grpc/grpc-js), sharing no code with
// this project. It broadcasts envelopes to an orderer, delivers them back and checks
// Fabric's block rules itself (data hash, DER header hash chain).
//
// usage: node fabric-client.mjs HOST:PORT CHANNEL COUNT

import crypto from 'node:crypto';
import grpc from '@grpc/grpc-js';
import protos from '@hyperledger/fabric-protos';
import timestampPb from 'google-protobuf/google/protobuf/timestamp_pb.js';

const { common, orderer } = protos;
const [server = '127.0.0.1:7050', channel = 'mychannel', countArg = '1000'] = process.argv.slice(2);
const COUNT = Number(countArg);

const client = new orderer.AtomicBroadcastClient(server, grpc.credentials.createInsecure(), {
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
});

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

function sha256(...parts) {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function channelHeader(type, channelId, txId) {
  const ch = new common.ChannelHeader();
  ch.setType(type);
  ch.setChannelId(channelId);
  ch.setTxId(txId);
  const ts = new timestampPb.Timestamp();
  ts.setSeconds(Math.floor(Date.now() / 1000));
  ch.setTimestamp(ts);
  return ch.serializeBinary();
}

function envelope({ type = common.HeaderType.ENDORSER_TRANSACTION, channelId = channel, data, header = true }) {
  const nonce = crypto.randomBytes(24);
  const txId = sha256(nonce).toString('hex');
  const payload = new common.Payload();
  if (header) {
    const h = new common.Header();
    h.setChannelHeader(channelHeader(type, channelId, txId));
    const sh = new common.SignatureHeader();
    sh.setNonce(nonce);
    h.setSignatureHeader(sh.serializeBinary());
    payload.setHeader(h);
  }
  payload.setData(data);
  const env = new common.Envelope();
  env.setPayload(payload.serializeBinary());
  return { env, txId };
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
function headerHash(h) {
  const body = Buffer.concat([
    derInteger(h.getNumber()),
    tlv(0x04, Buffer.from(h.getPreviousHash_asU8())),
    tlv(0x04, Buffer.from(h.getDataHash_asU8())),
  ]);
  return sha256(tlv(0x30, body));
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
  for (const b of blocks) {
    const h = b.getHeader();
    const dataHash = sha256(...b.getData().getDataList_asU8());
    if (!dataHash.equals(Buffer.from(h.getDataHash_asU8()))) fail(`block ${h.getNumber()}: bad data_hash`);
    if (prev && !headerHash(prev).equals(Buffer.from(h.getPreviousHash_asU8()))) fail(`block ${h.getNumber()}: bad previous_hash`);
    if (b.getMetadata().getMetadataList().length !== 5) fail(`block ${h.getNumber()}: metadata slots != 5`);
    prev = h;
  }
  console.log(`deliver: ${blocks.length} blocks, ${COUNT} envelopes in order, data hashes and DER hash chain valid`);

  // 3. Bad input gets a status with a reason; the orderer keeps serving.
  const garbage = new common.Envelope();
  garbage.setPayload(Buffer.from([0xff, 0xff, 0xff]));
  const headerless = envelope({ data: Buffer.from('x'), header: false }).env;
  const unknown = envelope({ channelId: 'no-such-channel', data: Buffer.from('x') }).env;
  const good = envelope({ data: Buffer.from('after') }).env;
  const r = await broadcast([garbage, headerless, unknown, good]);
  const expect = [common.Status.BAD_REQUEST, common.Status.BAD_REQUEST, common.Status.NOT_FOUND, common.Status.SUCCESS];
  r.forEach((x, i) => {
    if (x.status !== expect[i]) fail(`bad input ${i}: status ${x.status}, expected ${expect[i]} (${x.info})`);
    if (i < 3 && !x.info) fail(`bad input ${i}: no reason given`);
    console.log(`bad input ${i}: status ${x.status}: ${x.info || 'ok'}`);
  });
  const again = await broadcast([envelope({ data: Buffer.from('still serving') }).env]);
  if (again[0].status !== common.Status.SUCCESS) fail('orderer stopped serving after bad input');
  console.log('PASS');
  client.close();
}

main().catch((e) => fail(e.stack || String(e)));
