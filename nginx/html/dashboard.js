// The live dashboard: samples arrive over WebSocket (/ws, proxied by nginx to the monitor),
// about four a second; the charts keep the last 60 seconds. Message format: Docs/monitor.md.
'use strict';
const KEEP = 240;
const colors = ['#1565c0', '#ef6c00', '#2e7d32', '#6a1b9a', '#c62828', '#00838f', '#5d4037', '#9e9d24'];
const samples = { received: 0 };
window.fullyloaded = samples; // read by the browser test

function lineChart(id, datasets, options = {}) {
  return new Chart(document.getElementById(id), {
    type: 'line',
    data: { labels: [], datasets: datasets.map((d, i) => ({
      borderColor: d.color || colors[i], backgroundColor: d.color || colors[i], borderWidth: d.width || 1.5,
      pointRadius: 0, tension: 0.2, borderDash: d.dash || [], label: d.label, yAxisID: d.yAxisID || 'y', data: [] })) },
    options: Object.assign({
      animation: false, responsive: true, maintainAspectRatio: false,
      interaction: { intersect: false, mode: 'index' },
      scales: { x: { ticks: { maxTicksLimit: 6 } }, y: { beginAtZero: true } },
      plugins: { legend: { labels: { boxWidth: 12 } } },
    }, options),
  });
}

const charts = {
  cpu: lineChart('chart-cpu', [{ label: 'all cores', color: '#222', width: 2.5 }], { scales: { y: { min: 0, max: 100 } } }),
  ping: lineChart('chart-ping', [{ label: 'ping (ms)' }]),
  // Hashes on their own axis (right): a few per second beside hundreds of refusals or pings.
  // The capacity line: the jobs per second the slots can finish at the configured cost (full
  // batches when the workers batch), by the estimate: where hashes/s stands under load.
  throughput: lineChart('chart-throughput', [{ label: 'hashes/s', width: 2.5, yAxisID: 'hashes' }, { label: 'refusals/s' }, { label: 'pings/s' },
    { label: 'capacity', yAxisID: 'hashes', color: '#1565c0', dash: [6, 4] },
    { label: 'of which argon2id', yAxisID: 'hashes', color: '#6a1b9a' }],
    { scales: { x: { ticks: { maxTicksLimit: 6 } }, y: { beginAtZero: true, title: { display: true, text: 'refusals, pings' } },
      hashes: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'hashes' } } } }),
  wait: lineChart('chart-wait', [{ label: 'p50' }, { label: 'p95' }, { label: 'max' }, { label: 'N', color: '#c62828', dash: [6, 4], width: 2 }]),
  reasons: lineChart('chart-reasons', [{ label: 'at capacity' }, { label: 'over share' }, { label: 'displaced' }, { label: 'late' }]),
};

function push(chart, label, values) {
  chart.data.labels.push(label);
  values.forEach((v, i) => chart.data.datasets[i].data.push(v));
  if (chart.data.labels.length > KEEP) {
    chart.data.labels.shift();
    chart.data.datasets.forEach(d => d.data.shift());
  }
}

function text(id, value, digits = 0) {
  document.getElementById(id).textContent = value === null || value === undefined ? '–' : Number(value).toFixed(digits);
}

function duration(seconds) {
  if (seconds < 120) return seconds.toFixed(0) + ' s';
  if (seconds < 7200) return (seconds / 60).toFixed(0) + ' min';
  return (seconds / 3600).toFixed(1) + ' h';
}

function show(sample) {
  samples.received += 1;
  samples.last = sample;
  const label = new Date(sample.time * 1000).toLocaleTimeString();
  // One line per core, added as cores appear.
  while (charts.cpu.data.datasets.length < sample.cpu.cores.length + 1) {
    const i = charts.cpu.data.datasets.length - 1;
    charts.cpu.data.datasets.push({ label: 'core ' + i, borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length],
      borderWidth: 1.5, pointRadius: 0, tension: 0.2, data: new Array(charts.cpu.data.labels.length).fill(null) });
  }
  push(charts.cpu, label, [sample.cpu.total, ...sample.cpu.cores]);
  push(charts.ping, label, [sample.responsiveness.ping_milliseconds]);
  const t = sample.throughput;
  const q = sample.queue;
  push(charts.throughput, label, [t.hashes_per_second, t.refusals_per_second, t.pings_per_second, q ? q.capacity_per_second : null,
    t.argon2id_per_second]);
  push(charts.wait, label, [sample.wait.p50_milliseconds, sample.wait.p95_milliseconds, sample.wait.max_milliseconds,
    q ? q.deadline_seconds * 1000 : null]);
  const fair = sample.fair_share;
  const r = fair ? fair.refusals : null;
  push(charts.reasons, label, r ? [r.at_capacity, r.over_share, r.displaced, r.late] : [null, null, null, null]);
  Object.values(charts).forEach(c => c.update('none'));

  document.getElementById('architecture').textContent = sample.architecture;
  text('cpu-total', sample.cpu.total);
  text('ping', sample.responsiveness.ping_milliseconds, 1);
  text('hashes', t.hashes_per_second, 1);
  text('argon2id', t.argon2id_per_second, 1);
  document.getElementById('memory').textContent = q
    ? q.hash_memory_in_use.toFixed(0) + ' / ' + (q.hash_memory_budget > 0 ? q.hash_memory_budget.toFixed(0) : '∞')
    : '–';
  text('capacity', q ? q.capacity_per_second : null, 1);
  text('refusals', t.refusals_per_second, 1);
  text('wait', sample.wait.p95_milliseconds);
  document.getElementById('queue').textContent = q ? q.queued + ' · ' + q.running + '/' + q.slots : '–';
  text('predicted', q ? q.predicted_seconds : null, 2);
  document.getElementById('deadline').textContent = q ? 's (N = ' + q.deadline_seconds + ' s)' : 's';

  const rows = sample.workers.map(w => '<tr><td>' + w.pid + '</td><td>' + w.state + '</td><td>' + duration(w.uptime_seconds) +
    '</td><td>' + w.restarts + '</td><td>' + w.jobs + '</td><td>' + w.refused + '</td><td>' + w.pings + '</td></tr>');
  document.querySelector('#workers tbody').innerHTML = rows.join('');

  // Who got the hashing: the clients with the most recent compute time, keys hashed.
  text('active-clients', fair ? fair.active_clients : null);
  text('active-groups', fair ? fair.active_groups : null);
  text('tracked-keys', fair ? fair.tracked_keys : null);
  document.querySelector('#clients tbody').innerHTML = (fair ? fair.top : []).map(c => '<tr><td>' + escapeText(c.client) +
    '</td><td>' + (100 * c.share).toFixed(0) + ' %</td><td>' + c.queued + '</td><td>' + c.running + '</td><td>' + c.admitted +
    '</td><td>' + c.refused_over_share + '</td><td>' + c.displaced + '</td></tr>').join('');

  // Several hosts behind one nginx: each with its own queue and promise.
  const hosts = sample.hosts || [];
  document.getElementById('hosts-section').hidden = hosts.length < 2;
  document.querySelector('#hosts tbody').innerHTML = hosts.map(h => h.reachable
    ? '<tr><td>' + escapeText(h.name) + '</td><td>' + h.cpu_total.toFixed(0) + '</td><td>' + h.hashes_per_second.toFixed(1) +
      '</td><td>' + h.refusals_per_second.toFixed(1) + '</td><td>' + h.queued + ' · ' + h.running + '/' + h.slots +
      '</td><td>' + h.workers + '</td></tr>'
    : '<tr class="unreachable"><td>' + escapeText(h.name) + '</td><td colspan="5">unreachable</td></tr>').join('');
}

function escapeText(value) {
  const span = document.createElement('span');
  span.textContent = value;
  return span.innerHTML;
}

// Reconnects by itself, waiting longer after each failure (0.5 s doubling to 5 s).
let retryDelay = 500;
function connect() {
  const status = document.getElementById('connection');
  const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  // The monitor closes a /ws connection that says nothing for 150 s: say that we are here.
  let heartbeat;
  socket.onopen = () => {
    retryDelay = 500;
    status.textContent = 'live';
    status.className = 'status live';
    heartbeat = setInterval(() => socket.send('here'), 30000);
  };
  socket.onmessage = event => show(JSON.parse(event.data));
  socket.onclose = () => {
    clearInterval(heartbeat);
    status.textContent = 'disconnected — retrying';
    status.className = 'status disconnected';
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(5000, retryDelay * 2);
  };
}
connect();
