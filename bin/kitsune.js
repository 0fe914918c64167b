#!/usr/bin/env node
// The `kitsune` command. Runs the TypeScript sources through tsx's loader, so what runs is what
// is in src/ (no stale build); see docs/decisions/0004-run-from-source.md.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/index.ts');
