// Deliver fan-out as a Node.js application sees it: FOLLOWERS Deliver streams
// following the chain, multiplexed over CONNECTIONS HTTP/2 connections of
// @grpc/grpc-js, while COUNT envelopes of SIZE bytes are submitted the way Fabric's
// Node SDK submits a transaction (a Broadcast stream per envelope, on the same
// connections), CONCURRENCY at a time. Prints one JSON line: the seconds from the
// first submission until every follower had every envelope, and how far behind the
// last submission the slowest follower was.
//
// usage: node fanout.mjs HOST:PORT CHANNEL MSPDIR MSPID FOLLOWERS CONNECTIONS COUNT SIZE [CONCURRENCY]

import crypto from 'node:crypto';
import grpc from '@grpc/grpc-js';
import protos from '@hyperledger/fabric-protos';
import { envelope, fail, loadIdentity } from './fabric-envelopes.mjs';

const { common, orderer } = protos;
const args = process.argv.slice(2);
if (args.length < 8) {
  console.error('usage: node fanout.mjs HOST:PORT CHANNEL MSPDIR MSPID FOLLOWERS CONNECTIONS COUNT SIZE [CONCURRENCY]');
  process.exit(2);
}
const [server, channel, mspDir, mspId] = args;
const [followers, connections, count, size, concurrency = 16] = args.slice(4).map(Number);
const identity = loadIdentity(mspDir, mspId);

// One client per connection. grpc-js shares connections between clients of the same
// target and options through a global pool; a local pool per client keeps them
// apart, so that there are exactly CONNECTIONS connections.
const clients = Array.from(
  { length: connections },
  () =>
    new orderer.AtomicBroadcastClient(server, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
    }),
);

function seekEnvelope() {
  const info = new orderer.SeekInfo();
  const newest = new orderer.SeekPosition();
  newest.setNewest(new orderer.SeekNewest());
  const last = new orderer.SeekPosition();
  const n = new orderer.SeekSpecified();
  n.setNumber(Number.MAX_SAFE_INTEGER);
  last.setSpecified(n);
  info.setStart(newest);
  info.setStop(last);
  info.setBehavior(orderer.SeekInfo.SeekBehavior.BLOCK_UNTIL_READY);
  return envelope({
    type: common.HeaderType.DELIVER_SEEK_INFO,
    channelId: channel,
    signer: identity,
    data: info.serializeBinary(),
  }).env;
}

/**
 * A follower: resolves `ready` on its first block (the newest at the start), then
 * counts the envelopes of later blocks and resolves `done` with the time it had
 * `count` of them.
 */
function follow(client) {
  let ready;
  let done;
  const readyP = new Promise((r) => (ready = r));
  const doneP = new Promise((r, reject) => (done = { r, reject }));
  let first = true;
  let seen = 0;
  const call = client.deliver();
  call.on('data', (r) => {
    if (!r.hasBlock()) {
      done.reject(new Error(`Deliver ended with status ${r.getStatus()}`));
      return;
    }
    if (first) {
      first = false;
      ready();
      return;
    }
    seen += r.getBlock().getData().getDataList().length;
    if (seen >= count) {
      done.r(performance.now());
      call.cancel();
    }
  });
  call.on('error', (e) => {
    if (seen < count) done.reject(e);
  });
  call.write(seekEnvelope());
  return { ready: readyP, done: doneP };
}

/** One transaction as the SDK submits it: its own Broadcast stream, one envelope. */
function submit(client, env) {
  return new Promise((resolve, reject) => {
    const call = client.broadcast();
    call.on('data', (r) => {
      if (r.getStatus() !== common.Status.SUCCESS) reject(new Error(`status ${r.getStatus()}: ${r.getInfo()}`));
      else resolve();
      call.end();
    });
    call.on('error', reject);
    call.write(env);
  });
}

async function main() {
  // A follower that never gets its envelopes must not hang the run (or the test).
  setTimeout(() => fail('no result after 600 s'), 600_000);
  const follows = Array.from({ length: followers }, (_, i) => follow(clients[i % connections]));
  await Promise.all(follows.map((f) => f.ready));
  const envs = Array.from(
    { length: count },
    () => envelope({ channelId: channel, signer: identity, data: crypto.randomBytes(size) }).env,
  );
  const start = performance.now();
  let next = 0;
  const worker = async (w) => {
    while (next < envs.length) {
      const i = next++;
      await submit(clients[(w + i) % connections], envs[i]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const submitted = performance.now();
  const times = await Promise.all(follows.map((f) => f.done));
  const last = Math.max(...times);
  console.log(
    JSON.stringify({
      followers,
      connections,
      count,
      size,
      concurrency,
      submit_seconds: (submitted - start) / 1000,
      seconds: (last - start) / 1000,
      behind_seconds: (last - submitted) / 1000,
    }),
  );
  process.exit(0);
}

main().catch((e) => fail(e.stack || String(e)));
