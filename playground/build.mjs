// Bundles src/main.jsx (+ GraphiQL's CSS) into dist/app.js and dist/app.css,
// copies src/index.html to dist/index.html, and refuses to produce a page
// that would load anything from the network at runtime.
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

await build({
  absWorkingDir: root,
  entryPoints: { app: join(src, 'main.jsx') },
  outdir: dist, // -> dist/app.js + dist/app.css
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Any asset referenced from CSS is inlined; nothing is fetched at runtime.
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.png': 'dataurl', '.svg': 'dataurl' },
  legalComments: 'eof',
  logLevel: 'warning',
});

await copyFile(join(src, 'index.html'), join(dist, 'index.html'));

// Offline guard: no remote <script>/<link>, no remote CSS url()/@import.
const problems = [];
const html = await readFile(join(dist, 'index.html'), 'utf8');
for (const m of html.matchAll(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?((?:https?:)?\/\/[^"'\s>]+)/gi)) {
  problems.push(`index.html loads ${m[1]}`);
}
const css = await readFile(join(dist, 'app.css'), 'utf8');
for (const m of css.matchAll(/(?:url\(\s*["']?|@import\s+["'])((?:https?:)?\/\/[^"')\s]+)/gi)) {
  problems.push(`app.css loads ${m[1]}`);
}
if (problems.length) {
  console.error('build: the page would reach the network at runtime:\n  ' + problems.join('\n  '));
  process.exit(1);
}

for (const f of ['index.html', 'app.js', 'app.css']) {
  const { size } = await stat(join(dist, f));
  console.log(`dist/${f.padEnd(10)} ${(size / 1024).toFixed(1).padStart(8)} KiB`);
}
