// Builds the console (console/src) into dist/console, which the API serves at /console.
// Preact's automatic JSX runtime through esbuild: no Babel and no framework plugin needed.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // One small bundle; Ajv is most of it. No source maps in the shipped build.
    chunkSizeWarningLimit: 400,
    sourcemap: false,
  },
  logLevel: 'warn',
});
