/**
 * The console in a real browser against a real Kitsune: what an operator does there without the
 * CLI, on the embedded setup (`kitsune start` alone: embedded PostgreSQL, the Postgres log) and on
 * Kafka and PostgreSQL. Run by `npm run test:browser` (after `npm run build`, which builds the
 * console), which brings up Kafka and PostgreSQL as `npm test` does; screenshots of each page go to
 * test-results/console/ (kafka-*.png for the run on Kafka).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { repoRoot } from '../../scripts/services/state.ts';
import { hashKey } from '../../src/apps/api/api-keys.ts';
import { dataDir, freshNames, startKitsune, type Env, type RunningKitsune } from '../cli/support.ts';
import { createDatabase } from '../support/database.ts';
import { kafkaBrokers, kafkaSkip } from '../support/services.ts';
import { accessibilityProblems, chromiumMissing, openBrowser, overflowsSideways, screenshot, waitMs } from './browser.ts';

const built = existsSync(join(repoRoot, 'dist', 'console', 'index.html'));
const skip = chromiumMissing ?? (built ? undefined : 'the console is not built: run `npm run build` first');

/** Fails on axe-core's serious or critical findings, and on sideways scrolling. */
async function check(page: Page, name: string): Promise<void> {
  name = `${shotPrefix}${name}`;
  assert.deepEqual(await accessibilityProblems(page), [], `accessibility of ${name}`);
  assert.equal(await overflowsSideways(page), false, `${name} scrolls sideways at ${page.viewportSize()?.width} px`);
  await screenshot(page, name);
}

async function sendFromForm(page: Page, command: string, payload: Record<string, string>): Promise<string> {
  await page.goto(`${page.url().split('#')[0]}#/commands/${command}`);
  const form = page.getByRole('region', { name: `Send ${command} v1` });
  for (const [field, value] of Object.entries(payload)) await form.getByRole('textbox', { name: field, exact: true }).fill(value);
  await form.getByRole('button', { name: 'Send command' }).click();
  await form.getByTestId('send-status').filter({ hasText: '202' }).waitFor();
  const link = form.getByRole('link', { name: /Follow event/ });
  const id = (await link.locator('code').textContent())!;
  assert.match(id, /^[0-9a-f-]{36}$/);
  return id;
}

async function findById(page: Page, id: string): Promise<void> {
  await page.getByRole('link', { name: 'Events', exact: true }).click();
  await page.getByRole('textbox', { name: 'Event id', exact: true }).fill(id);
  await page.getByRole('button', { name: 'Find event' }).click();
  await page.getByRole('heading', { name: `Event ${id}` }).waitFor();
}

/** Screenshots of the run on Kafka + PostgreSQL are named kafka-*.png. */
let shotPrefix = '';

const eventStatus = (page: Page, text: string) => page.getByTestId('event-status').filter({ hasText: text }).waitFor();

/**
 * What an operator does with keys off: send from the form, find it by id and watch it succeed; a
 * constraint violation goes to the DLQ, is dry-run (would fail), fixed, dry-run again (would
 * succeed) and replayed; every page at 1280 and 390 px, in light and dark, and by keyboard.
 */
async function operatorFlow(t: TestContext, env: Env, name: string, afterStop?: () => Promise<void>): Promise<void> {
  let kitsune: RunningKitsune;
  try {
    kitsune = await startKitsune(t, { KITSUNE_DATA_DIR: await dataDir(t), ...env });
  } catch (error) {
    await afterStop?.();
    throw error;
  }
  // after hooks run in the order they were added: this one runs once Kitsune has stopped.
  if (afterStop) t.after(afterStop);
  const context = await openBrowser(t, name);
  const page = await context.newPage();
  const email = `ada-${randomUUID().slice(0, 8)}@example.com`;

  await page.goto(`${kitsune.url}/console`);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.getByRole('heading', { name: 'DLQ depth' }).waitFor();
  await check(page, 'overview-1280');

  // The form checks the payload with the command's schema before anything is sent.
  await page.goto(`${kitsune.url}/console/#/commands/create_user`);
  const form = page.getByRole('region', { name: 'Send create_user v1' });
  await form.getByRole('textbox', { name: 'name', exact: true }).fill('Ada');
  await form.getByRole('textbox', { name: 'email', exact: true }).fill('not-an-email');
  await form.getByRole('button', { name: 'Send command' }).click();
  await form.getByText('email must match format "email"').waitFor();
  assert.equal(await form.getByTestId('send-status').count(), 0, 'an invalid payload is not sent');
  assert.equal(await form.getByRole('textbox', { name: 'email', exact: true }).getAttribute('aria-invalid'), 'true');
  await check(page, 'commands-invalid-1280');

  const first = await sendFromForm(page, 'create_user', { name: 'Ada', email });
  await check(page, 'commands-sent-1280');
  await findById(page, first);
  await eventStatus(page, 'Succeeded');
  await page.getByRole('heading', { name: 'Executed' }).waitFor();
  await check(page, 'event-succeeded-1280');

  // The same event found by its idempotency key and source (the server made the key up).
  const named = await page.evaluate(async (id) => (await (await fetch(`/events/${id}`)).json()) as { idempotency_key: string; source: string }, first);
  await page.getByRole('link', { name: 'Events', exact: true }).click();
  await page.getByRole('heading', { name: `Event ${first}` }).waitFor({ state: 'detached' });
  await page.getByRole('textbox', { name: 'Idempotency key', exact: true }).fill(named.idempotency_key);
  await page.getByRole('textbox', { name: 'Source', exact: true }).fill(named.source);
  await page.getByRole('button', { name: 'Find by key' }).click();
  await page.getByRole('heading', { name: `Event ${first}` }).waitFor();
  await eventStatus(page, 'Succeeded');

  // The same email again: unique violation (23505), dead-lettered at once.
  const second = await sendFromForm(page, 'create_user', { name: 'Ada again', email });
  await findById(page, second);
  await eventStatus(page, 'Dead-lettered');
  await page.getByText(/SQLSTATE 23505/).first().waitFor();
  await check(page, 'event-dead-lettered-1280');

  await page.getByRole('link', { name: 'Dead letters', exact: true }).click();
  const row = page.getByRole('row').filter({ hasText: second.slice(0, 8) });
  await row.waitFor();
  await row.getByRole('checkbox').check();
  await page.getByRole('button', { name: /Dry-run selected/ }).click();
  await row.getByText(/would fail: duplicate key value violates unique constraint "users_email_key" \(23505\)/).waitFor();
  await check(page, 'dlq-dry-run-fails-1280');

  // Fix the data from the console too: the first user takes another email.
  const userId = await page.evaluate(async (id) => {
    const response = await fetch(`/events/${id}`);
    const view = (await response.json()) as { result: { rows: Array<{ id: string }> } };
    return String(view.result.rows[0]!.id);
  }, first);
  const fix = await sendFromForm(page, 'update_user', { id: userId, email: `moved-${email}` });
  await findById(page, fix);
  await eventStatus(page, 'Succeeded');

  await page.getByRole('link', { name: 'Dead letters', exact: true }).click();
  await row.getByRole('checkbox').check();
  await page.getByRole('button', { name: /Dry-run selected/ }).click();
  await row.getByText('would succeed').waitFor();
  await check(page, 'dlq-dry-run-succeeds-1280');
  await page.getByRole('button', { name: 'Replay selected…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Replay 1 dead letter?' });
  await dialog.waitFor();
  await screenshot(page, `${shotPrefix}dlq-replay-confirm-1280`);
  await dialog.getByRole('button', { name: 'Replay', exact: true }).click();
  await page.getByText(/Replay outcomes: 1 succeeded, 0 failed again, 0 pending\. Done\./).waitFor();
  await check(page, 'dlq-replayed-1280');

  await findById(page, second);
  await eventStatus(page, 'Succeeded');

  // The overview counts what happened (its samples are 10 s apart, so wait for a rate).
  await page.getByRole('link', { name: 'Overview', exact: true }).click();
  await page.getByRole('heading', { name: 'Executed' }).waitFor();
  await page.getByRole('img', { name: /^Executed, last/ }).waitFor({ timeout: waitMs });

  // Every page 390 px wide, then in dark colours as the system asks; then by keyboard alone, with a
  // visible focus ring.
  const everyPage = async (suffix: string): Promise<void> => {
    for (const [name, hash] of [['overview', ''], ['events', `events/${second}`], ['dlq', 'dlq'], ['commands', 'commands/create_user']] as const) {
      await page.goto(`${kitsune.url}/console/#/${hash}`);
      await page.locator('main h1').waitFor();
      if (name === 'events') await eventStatus(page, 'Succeeded');
      if (name === 'commands') await page.getByRole('button', { name: 'Send command' }).waitFor();
      if (name === 'dlq') await page.getByRole('heading', { name: 'Filters' }).waitFor();
      await check(page, `${name}-${suffix}`);
    }
  };
  const background = (): Promise<string> => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await background();
  await page.setViewportSize({ width: 390, height: 844 });
  await everyPage('390');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await everyPage('dark-1280');
  assert.notEqual(await background(), light, 'dark colours when the system prefers dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${kitsune.url}/console/#/overview`);
  // A fresh document: nothing has focus until the first Tab.
  await page.reload();
  await page.locator('main h1').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement === document.body), true, 'a freshly loaded page focuses nothing');
  await page.keyboard.press('Tab');
  const skipLink = page.getByRole('link', { name: 'Skip to content' });
  assert.equal(await skipLink.evaluate((element) => element === document.activeElement), true, 'the first Tab reaches the skip link');
  assert.notEqual(await skipLink.evaluate((element) => getComputedStyle(element).outlineStyle), 'none', 'focus is visible');
  // Tab to the Commands link and open it with Enter.
  for (let i = 0; i < 10 && !(await page.getByRole('link', { name: 'Commands', exact: true }).evaluate((element) => element === document.activeElement)); i++) await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Commands', level: 1 }).waitFor();
  // A page opened from the navigation takes the focus to its heading, for screen readers.
  await page.waitForFunction(() => document.activeElement === document.querySelector('main h1'));
  await screenshot(page, `${shotPrefix}keyboard-commands-1280`);
}

describe('the console, keys off', { skip }, () => {
  test('on the embedded setup (kitsune start alone)', { timeout: 900_000 }, async (t) => {
    shotPrefix = '';
    await operatorFlow(t, {}, 'keys-off');
  });

  test('on Kafka and PostgreSQL (KAFKA_BROKERS, POSTGRES_DSN)', { skip: skip ?? kafkaSkip, timeout: 900_000 }, async (t) => {
    const database = await createDatabase();
    shotPrefix = 'kafka-';
    await operatorFlow(t, { ...freshNames(), KAFKA_BROKERS: kafkaBrokers().join(','), POSTGRES_DSN: database.dsn }, 'kafka-keys-off', database.drop);
  });
});

describe('the console, keys on', { skip }, () => {
  test('asks for a key, and a key without admin cannot manage or replay dead letters', { timeout: 600_000 }, async (t) => {
    shotPrefix = '';
    const dir = await dataDir(t);
    const admin = `admin-${randomUUID()}`;
    const reader = `reader-${randomUUID()}`;
    const keysFile = join(dir, 'keys.yaml');
    await writeFile(
      keysFile,
      `keys:\n` +
        `  - { name: ops, sha256: ${hashKey(admin)}, source: ops, commands: ["*"], admin: true }\n` +
        `  - { name: shop, sha256: ${hashKey(reader)}, source: shop, commands: ["*"] }\n`,
    );
    const kitsune = await startKitsune(t, { KITSUNE_DATA_DIR: dir, KITSUNE_API_KEYS_FILE: keysFile });
    // A dead letter to manage: the same email twice, sent with the shop's key.
    const email = `keys-${randomUUID().slice(0, 8)}@example.com`;
    for (const name of ['One', 'Two']) {
      const response = await fetch(`${kitsune.url}/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${reader}` },
        body: JSON.stringify({ command: 'create_user', version: '1', payload: { name, email }, log: { level: 'INFO', message: 'keys test' } }),
      });
      assert.equal(response.status, 202);
    }

    const context = await openBrowser(t, 'keys-on');
    const page = await context.newPage();
    await page.goto(`${kitsune.url}/console`);
    const keyInput = page.getByLabel('Key', { exact: true });
    await keyInput.waitFor();
    await check(page, 'key-prompt-1280');
    await keyInput.fill(reader);
    await keyInput.press('Enter');
    await page.getByRole('heading', { name: 'DLQ depth' }).waitFor();

    await page.getByRole('link', { name: 'Dead letters', exact: true }).click();
    await page.getByText(/may not manage the dead-letter queue/).waitFor();
    await screenshot(page, 'dlq-forbidden-1280');
    const replay = await page.evaluate(async (key) => {
      const response = await fetch('/dlq/replay', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ ids: ['0:0'] }) });
      return { status: response.status, body: (await response.json()) as { error: { code: string } } };
    }, reader);
    assert.equal(replay.status, 403);
    assert.equal(replay.body.error.code, 'forbidden');

    // The admin key sees the letter and may replay it.
    await page.getByRole('button', { name: 'Change API key' }).click();
    await keyInput.fill(admin);
    await keyInput.press('Enter');
    await page.getByRole('link', { name: 'Dead letters', exact: true }).click();
    const row = page.getByRole('row').filter({ hasText: '23505' });
    await row.waitFor();
    await check(page, 'dlq-admin-1280');
  });
});

before(() => {
  if (skip && process.env.KITSUNE_REQUIRE_SERVICES === '1') throw new Error(`the console's browser tests cannot run: ${skip}`);
});
