// schedule_peer.js: the BullMQ peer of bench/bench_schedule.py (issue 5):
// delayed jobs, as a BullMQ user would schedule court reminders.
//
// bench_schedule.py copies this file next to ../shared/bench-peers/bullmq's
// package.json in build/bench-peer (where bench_outbox.py runs npm install)
// and runs it there, so require('bullmq') finds that install.
//
//   MODE=add  N delayed jobs {to, body} with Queue.addBulk in chunks of
//             CHUNK; each delay is days ahead (7..36 days, on whole
//             minutes of business hours, the spread pregon's reminders
//             have). Prints seconds, jobs_per_s and the delayed count.
//   MODE=due  starts a Worker (CONCURRENCY, each job appends one JSON line
//             to OUTBOX_FILE, as pregon's outbox adapter does), then adds K
//             jobs all due at one instant LEAD_MS ahead (same timestamp and
//             delay for every job), and measures from that instant to the
//             first and the last completed job. The N jobs of MODE=add stay
//             delayed (weeks ahead) around them.
//
// env: MODE=add|due N=1000000 CHUNK=1000 K=10000 LEAD_MS=3000 CONCURRENCY=50
//      REDIS_PORT (127.0.0.1 only) QUEUE=sched OUTBOX_FILE=/path TIMEOUT_S=300
'use strict';
const fs = require('fs');
const { Queue, Worker } = require('bullmq');

const MODE = process.env.MODE || 'add';
const N = Number(process.env.N || 1000000);
const CHUNK = Number(process.env.CHUNK || 1000);
const K = Number(process.env.K || 10000);
const LEAD_MS = Number(process.env.LEAD_MS || 3000);
const CONCURRENCY = Number(process.env.CONCURRENCY || 50);
const QUEUE = process.env.QUEUE || 'sched';
const TIMEOUT_S = Number(process.env.TIMEOUT_S || 300);
const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT || 6390), maxRetriesPerRequest: null };

const MIN = 60000;
const DAY = 86400000;
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday'];

function phone(j) {
  return '+1323' + String(5550000 + (j % 4450000)).padStart(7, '0');
}

// What a BullMQ user stores for a reminder: the number and the text,
// rendered when the job is added (BullMQ has no templates).
function body(j) {
  const h = 8 + ((j >> 3) % 9);
  const m = (j * 7) % 60;
  return `Hi Ana, this is a reminder that you have court on ${DAYS[j % 5]}, February ${1 + (j % 28)}, 2027, ` +
    `at ${h > 12 ? h - 12 : h}:${String(m).padStart(2, '0')} ${h >= 12 ? 'PM' : 'AM'}. Where: Clara Shortridge ` +
    `Foltz CJC, Dept. 30, 210 W Temple St, Los Angeles, CA 90012. Please arrive early. Reply STOP to stop ` +
    `these messages.`;
}

async function add() {
  const q = new Queue(QUEUE, { connection });
  await q.waitUntilReady();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += CHUNK) {
    const jobs = [];
    for (let j = i; j < Math.min(N, i + CHUNK); j++) {
      // 7..36 days ahead, on one of 540 minutes of a working day.
      const delay = (7 + (j % 30)) * DAY + ((j * 7919) % 540) * MIN;
      jobs.push({ name: 'reminder', data: { to: phone(j), body: body(j) }, opts: { delay } });
    }
    await q.addBulk(jobs);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const counts = await q.getJobCounts('wait', 'delayed', 'active', 'completed');
  console.log(`peer-add n=${N} chunk=${CHUNK} seconds=${s.toFixed(3)} jobs_per_s=${Math.round(N / s)} ` +
    `counts=${JSON.stringify(counts)}`);
  await q.close();
}

async function due() {
  const outbox = fs.openSync(process.env.OUTBOX_FILE || '/dev/null', 'a');
  let seq = 0;
  let done = 0;
  let failed = 0;
  let first = null;
  let last = null;
  let dueAt = null;
  const worker = new Worker(QUEUE, async (job) => {
    const line = JSON.stringify({ message: 'peer-' + (++seq), job: job.id, at: new Date().toISOString(),
      to: job.data.to, body: job.data.body }) + '\n';
    await new Promise((resolve, reject) => fs.write(outbox, line, (err) => (err ? reject(err) : resolve())));
    return 'peer-' + seq;
  }, { connection, concurrency: CONCURRENCY });
  await worker.waitUntilReady();
  const q = new Queue(QUEUE, { connection });
  await q.waitUntilReady();
  const finished = new Promise((resolve) => {
    const check = () => {
      if (done + failed >= K) resolve();
    };
    worker.on('completed', () => {
      const now = Date.now();
      if (first === null) first = now;
      last = now;
      done++;
      check();
    });
    worker.on('failed', (job, err) => {
      failed++;
      if (failed <= 5) console.error('failed:', err && err.message);
      check();
    });
  });
  worker.on('error', (err) => console.error('worker error:', err && err.message));
  // Let the worker settle into its blocking wait first.
  await new Promise((r) => setTimeout(r, 500));
  const ts = Date.now();
  dueAt = ts + LEAD_MS;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < K; i += CHUNK) {
    const jobs = [];
    for (let j = i; j < Math.min(K, i + CHUNK); j++) {
      // One timestamp and delay for all: every job due at dueAt exactly.
      jobs.push({ name: 'reminder', data: { to: phone(N + j), body: body(j) },
        opts: { delay: dueAt - ts, timestamp: ts } });
    }
    await q.addBulk(jobs);
  }
  const addS = Number(process.hrtime.bigint() - t0) / 1e9;
  if (Date.now() >= dueAt) console.error(`warning: adding ${K} jobs took ${addS}s, past LEAD_MS`);
  const timer = setTimeout(() => {
    console.error(`timeout after ${TIMEOUT_S}s: ${done} of ${K} done`);
    process.exit(3);
  }, TIMEOUT_S * 1000);
  await finished;
  clearTimeout(timer);
  const counts = await q.getJobCounts('wait', 'delayed', 'active', 'completed', 'failed');
  await worker.close();
  await q.close();
  const span = (last - first) / 1000;
  console.log(`peer-due k=${K} concurrency=${CONCURRENCY} add_seconds=${addS.toFixed(3)} ` +
    `due_to_first_ms=${first - dueAt} due_to_last_ms=${last - dueAt} first_to_last_s=${span.toFixed(3)} ` +
    `jobs_per_s=${Math.round(K / ((last - dueAt) / 1000))} completed=${done} failed=${failed} ` +
    `counts=${JSON.stringify(counts)}`);
  process.exit(failed ? 1 : 0);
}

(MODE === 'due' ? due() : add()).catch((e) => { console.error(e); process.exit(1); });
