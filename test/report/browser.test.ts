// Opens a report generated from the fixture run in Debian's chromium (driven by playwright-core) and
// checks what only a browser can: the scripts run under the page's CSP, nothing is fetched, and every
// chart actually draws its data. Saves a full-page screenshot to test-output/report.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { writeReport } from '../../src/report/write.ts';
import { FIXTURE_DIR } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

interface ChartCheck {
  id: string;
  hasChart: boolean;
  datasets: { label: string; points: number }[];
  /** Pixels of clearly saturated colour: data series, not the grey/black axes, grid and text. */
  colouredPixels: number;
}

interface PageLog {
  errors: string[];
  requests: string[];
}

function watch(page: Page): PageLog {
  const log: PageLog = { errors: [], requests: [] };
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      log.errors.push(`console.${message.type()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => log.errors.push(`page error: ${error.message}`));
  page.on('request', (request) => log.requests.push(request.url()));
  page.on('requestfailed', (request) => log.errors.push(`request failed: ${request.url()}`));
  return log;
}

// The project compiles without the DOM library, so the few browser objects used in page.evaluate are
// described here.
interface BrowserCanvas {
  id: string;
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  };
}

interface BrowserChart {
  data: { datasets: { label: string; data: (number | null | { y: number })[] }[] };
}

interface BrowserGlobals {
  Chart: { getChart(canvas: BrowserCanvas): BrowserChart | undefined };
  document: {
    querySelectorAll(selector: 'canvas'): Iterable<BrowserCanvas>;
    documentElement: { scrollWidth: number; clientWidth: number };
  };
}

async function checkCharts(page: Page): Promise<ChartCheck[]> {
  return page.evaluate(() => {
    const { Chart, document } = globalThis as unknown as BrowserGlobals;
    return [...document.querySelectorAll('canvas')].map((canvas) => {
      const chart = Chart.getChart(canvas);
      const datasets = (chart?.data.datasets ?? []).map((d) => ({
        label: d.label,
        points: d.data.filter((v) =>
          typeof v === 'number' ? Number.isFinite(v) : v !== null && Number.isFinite(v.y),
        ).length,
      }));
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let colouredPixels = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        const [r, g, b, a] = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!, pixels[i + 3]!];
        if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 60) colouredPixels++;
      }
      return { id: canvas.id, hasChart: chart !== undefined, datasets, colouredPixels };
    });
  });
}

test('the fixture report opens in chromium offline, error-free, with every chart drawn', async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} not found: the browser test needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)`,
  );
  const runDir = join(OUTPUT, 'report-run');
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(OUTPUT, { recursive: true });
  cpSync(FIXTURE_DIR, runDir, { recursive: true });
  const reportUrl = pathToFileURL(writeReport(runDir)).href;

  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const log = watch(page);
    await page.goto(reportUrl, { waitUntil: 'load' });

    const charts = await checkCharts(page);
    assert.equal(charts.length, 10, 'ten charts on the page');
    for (const chart of charts) {
      assert.ok(chart.hasChart, `${chart.id}: no Chart.js chart on the canvas`);
      assert.ok(chart.datasets.length > 0, `${chart.id}: no datasets`);
      for (const dataset of chart.datasets) {
        assert.ok(dataset.points > 0, `${chart.id}: dataset "${dataset.label}" has no points`);
      }
      assert.ok(
        chart.colouredPixels > 300,
        `${chart.id}: only ${chart.colouredPixels} coloured pixels drawn`,
      );
    }

    await page.screenshot({ path: join(OUTPUT, 'report.png'), fullPage: true });
    assert.deepEqual(log.errors, [], 'no console errors, page errors or failed requests');
    assert.deepEqual(log.requests, [reportUrl], 'the report fetches nothing but itself');

    // Narrow screens: the layout reflows instead of scrolling sideways (wide tables scroll in their box).
    const phone = await browser.newPage({ viewport: { width: 390, height: 800 } });
    const phoneLog = watch(phone);
    await phone.goto(reportUrl, { waitUntil: 'load' });
    const overflow = await phone.evaluate(() => {
      const { documentElement } = (globalThis as unknown as BrowserGlobals).document;
      return documentElement.scrollWidth - documentElement.clientWidth;
    });
    assert.ok(overflow <= 0, `page is ${overflow}px wider than a 390px screen`);
    assert.deepEqual(phoneLog.errors, []);
  } finally {
    await browser?.close();
  }
});
