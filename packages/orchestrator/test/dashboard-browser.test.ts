// The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core (which never downloads a
// browser). Screenshots go to artifacts/screenshots/ (git-ignored); with ONEX_DOCS_SCREENSHOT=<path> the
// page of a running workflow is also written there (how docs/dashboard.png is made).
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orderWorkflow, startDashboardStack, type DashboardStack } from './dashboard-fixture.js';
import { chromiumPath } from './browser/chromium.js';

const SCREENSHOTS = fileURLToPath(new URL('../../../artifacts/screenshots/', import.meta.url));
const XSS = '<script>alert(1)</script>';

let browser: Browser;
let stack: DashboardStack | undefined;
/** What this test's pages did that they must not: dialogs (an executed alert), script errors, CSP violations. */
let incidents: string[] = [];
/** Pages this test opened: closed before its stack stops, so a stream cut by the stopping server is no incident. */
let pages: Page[] = [];

beforeAll(async () => {
  // Installs Debian's chromium first when missing and allowed (root with apt-get): give apt its time once.
  const executablePath = chromiumPath();
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}, 25 * 60_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  for (const page of pages) await page.close();
  pages = [];
  await stack?.close();
  stack = undefined;
});

async function open(path: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1180, height: 900 } });
  pages.push(page);
  page.setDefaultTimeout(30_000);
  // This test's list: a late event of an earlier test's page lands in that test's list, not here.
  const seen = incidents;
  page.on('dialog', (dialog) => {
    seen.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => seen.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') seen.push(`console: ${message.text()}`);
  });
  await page.goto(`${stack!.served.url}${path}`);
  return page;
}

describe('dashboard in Chromium', () => {
  it('renders the list; the timeline of a running workflow updates live without a reload; <script> input shows as text', async () => {
    incidents = [];
    stack = await startDashboardStack();
    const o = stack.orchestrator;
    const id = await o.start(orderWorkflow, { value: 1, note: XSS });
    await stack.gate.arrived(1);
    const nap = await o.start('nap', { value: 7 });
    const broken = await o.start('broken-saga', { value: 3 });
    await o.result(broken);

    const list = await open('/ui/workflows');
    await list.locator(`tr[data-id="${id}"][data-status="running"]`).waitFor();
    await list.locator(`#sleeping tr[data-id="${nap}"]`).waitFor();
    await list.locator(`tr[data-id="${broken}"][data-status="compensation_failed"]`).waitFor();
    await list.locator('#breakers tr[data-peer="peer:gate"]').waitFor();
    await list.locator('#live-status[data-state="live"]').waitFor();
    await list.screenshot({ path: `${SCREENSHOTS}list.png`, fullPage: true });

    await list.locator(`tr[data-id="${id}"] a`).click();
    await list.waitForURL(`**/ui/workflows/${id}`);
    const page = list;
    await page.locator('#live-status[data-state="live"]').waitFor();
    await page.locator('#gantt g.row[data-step="charge"][data-status="running"]').waitFor();
    await page.locator('#gantt g.row[data-step="ship"][data-status="pending"]').waitFor();
    expect(await page.locator('#wf-input').textContent()).toContain(XSS);
    expect(await page.locator('#wf-input script').count()).toBe(0);
    // A marker a reload would wipe out.
    await page.evaluate('window.__onexMarker = 42');
    const refreshesBefore = Number(await page.evaluate('document.body.dataset.refreshes ?? 0'));
    await page.screenshot({ path: `${SCREENSHOTS}workflow-running.png`, fullPage: true });
    const docs = process.env['ONEX_DOCS_SCREENSHOT'];
    if (docs !== undefined && docs !== '') await page.screenshot({ path: docs, clip: { x: 0, y: 0, width: 1180, height: 760 } });

    stack.gate.release();
    await page.locator('#wf-status[data-status="completed"]').waitFor();
    await page.locator('#gantt g.row[data-step="charge"][data-status="completed"]').waitFor();
    await page.locator('#gantt g.row[data-step="ship"][data-status="completed"] rect.bar').waitFor();
    expect(await page.evaluate('window.__onexMarker')).toBe(42);
    expect(Number(await page.evaluate('document.body.dataset.refreshes'))).toBeGreaterThan(refreshesBefore);
    expect(await page.locator('#wf-output').textContent()).toContain('"total": 4');
    await page.screenshot({ path: `${SCREENSHOTS}workflow-completed.png`, fullPage: true });

    // The list follows too, without a reload, and misses nothing that changed between its rendering and the moment
    // its event stream opened: the stream's request is held back until a workflow has started in that gap.
    let releaseStream!: () => void;
    const streamHeld = new Promise<void>((resolve) => {
      releaseStream = resolve;
    });
    await page.route('**/ui/events*', async (route) => {
      await streamHeld;
      await route.continue();
    });
    // (Not `load`: the page's held stream request would hold that event back too.)
    await page.goto(`${stack.served.url}/ui/workflows`, { waitUntil: 'domcontentloaded' });
    await page.evaluate('window.__onexMarker = 7');
    const inGap = await o.start(orderWorkflow, { value: 2 });
    await stack.gate.arrived(2);
    expect(await page.locator(`tr[data-id="${inGap}"]`).count()).toBe(0);
    releaseStream();
    await page.locator('#live-status[data-state="live"]').waitFor();
    await page.locator(`tr[data-id="${inGap}"][data-status="running"]`).waitFor();
    const second = await o.start(orderWorkflow, { value: 3 });
    await page.locator(`tr[data-id="${second}"]`).waitFor();
    expect(await page.evaluate('window.__onexMarker')).toBe(7);
    expect(incidents).toEqual([]);
  }, 120_000);

  it('cancels a running workflow from its page', async () => {
    incidents = [];
    stack = await startDashboardStack();
    const o = stack.orchestrator;
    const id = await o.start(orderWorkflow, { value: 5, note: XSS });
    await stack.gate.arrived(1);
    const page = await open(`/ui/workflows/${encodeURIComponent(id)}`);
    await page.locator('#gantt g.row[data-step="charge"][data-status="running"]').waitFor();
    const cancel = page.locator('button[data-action="cancel"]');
    await cancel.click();
    // The first click only arms the button (no dialog); the second sends the POST.
    expect(await cancel.textContent()).toBe('Confirm cancel');
    expect((await o.get(id)).cancelRequested).toBeUndefined();
    await cancel.click();
    await page.locator('#wf-status[data-status="cancelled"]').waitFor();
    await page.locator('#gantt g.row[data-step="reserve"][data-status="compensated"] rect.comp').waitFor();
    expect((await o.get(id)).status).toBe('cancelled');
    expect(await page.locator('#flash').textContent()).toContain('cancel');
    expect(await page.locator('button[data-action="cancel"]').count()).toBe(0);
    await page.screenshot({ path: `${SCREENSHOTS}workflow-cancelled.png`, fullPage: true });
    expect(incidents).toEqual([]);
  }, 120_000);
});
