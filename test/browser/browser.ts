/**
 * Debian's Chromium driven by playwright-core, for the console's browser tests. No browser is
 * downloaded: /usr/bin/chromium comes from `apt-get install chromium` (.ci/run), or
 * KITSUNE_CHROMIUM names another. Each test gets a fresh profile folder of its own.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../../scripts/services/state.ts';

export const chromiumPath = process.env.KITSUNE_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumMissing = existsSync(chromiumPath) ? undefined : `no Chromium at ${chromiumPath}: apt-get install -y chromium (or set KITSUNE_CHROMIUM)`;

/** Where screenshots go (gitignored): test-results/console/. */
export const outputDir = join(repoRoot, 'test-results', 'console');

const flags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Generous: they only catch a hang on a machine loaded by other work. */
export const waitMs = 120_000;

/**
 * A browser with a fresh profile, closed when the test ends. Before closing, each open page is
 * saved as last-<name>-<n>.png with what its console said (last-<name>-<n>.log): a failure's
 * post-mortem.
 */
export async function openBrowser(t: TestContext, name: string): Promise<BrowserContext> {
  const profile = await mkdtemp(join(tmpdir(), 'kitsune-chromium-'));
  await mkdir(outputDir, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: flags,
    viewport: { width: 1280, height: 900 },
    // axe-core is injected as a script; the console's own policy allows only its own files.
    bypassCSP: true,
    timeout: waitMs,
  });
  context.setDefaultTimeout(waitMs);
  const said = new Map<Page, string[]>();
  context.on('page', (page) => {
    const lines: string[] = [];
    said.set(page, lines);
    page.on('console', (message) => lines.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => lines.push(`page error: ${error.message}`));
  });
  t.after(async () => {
    for (const [index, page] of context.pages().entries()) {
      await screenshot(page, `last-${name}-${index}`).catch(() => undefined);
      await writeFile(join(outputDir, `last-${name}-${index}.log`), `${page.url()}\n${(said.get(page) ?? []).join('\n')}\n`).catch(() => undefined);
    }
    await context.close();
    await rm(profile, { recursive: true, force: true });
  });
  return context;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(outputDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

interface AxeResult {
  violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }>;
}

const axeSource = readFile(join(repoRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** axe-core's serious and critical findings on the page as it is now (WCAG 2.x A and AA rules). */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  const loaded = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe !== 'undefined');
  if (!loaded) await page.addScriptTag({ content: await axeSource });
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: unknown) => Promise<AxeResult> } }).axe;
    return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
  });
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

/** True when the page scrolls sideways at this width (content wider than the viewport). */
export function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1);
}
