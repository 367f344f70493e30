/**
 * Regenerates a model's real-disk fixtures: runs each recipe (harness/model/<type>/fixtures/*.yaml) in a guest,
 * keeps the data disk the tools and the kernel wrote (stack closed: a dm-integrity journal is drained) and
 * stores it gzipped as <recipe>.img.gz for that model's real-image.test.ts. For LUKS2 the key slots area
 * (random AF-split key material the model never reads; the header checksums do not cover it) is zeroed first.
 *   IH_CACHE_DIR=... npx tsx harness/test/make-fixtures.ts <integrity|crypt|luks2> [kernel spec, default 6.1] [recipe]
 * It lives beside the test support rather than in the model: it runs guests, and the model stays below the run.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseLuks2Header } from '../model/luks2/header.ts';
import { luks2DataSegment } from '../model/luks2/segment.ts';
import { runScenarioFile } from '../run/single-cell.ts';

/** What a type does to the image before it is stored, and says about it. */
const prepare: Record<string, (image: Buffer) => string> = {
  integrity: () => '',
  crypt: () => '',
  luks2: (image) => {
    const header = parseLuks2Header(image);
    const seg = luks2DataSegment(header.active.json);
    image.fill(0, 2 * header.active.hdrSize, seg.offset);
    return `; key slots area ${2 * header.active.hdrSize}..${seg.offset} zeroed`;
  },
};

const [type, kernel = '6.1', only] = process.argv.slice(2);
if (type === undefined || !(type in prepare)) {
  console.error(`usage: make-fixtures.ts <${Object.keys(prepare).join('|')}> [kernel spec] [recipe]`);
  process.exit(255);
}
const here = resolve(import.meta.dirname, '..', 'model', type, 'fixtures');
for (const recipe of readdirSync(here).filter((f) => f.endsWith('.yaml') && (only === undefined || f === `${only}.yaml`)).sort()) {
  const dir = mkdtempSync(join(tmpdir(), `ih-${type}-fixture-`));
  const t = Date.now();
  const { result, scenario } = await runScenarioFile({ file: join(here, recipe), scenariosDir: here, kernel, dir, keepDisks: true });
  if (result.verdict !== 'pass') throw new Error(`${recipe}: ${result.verdict}: ${result.reason} (see ${dir})`);
  const image = readFileSync(join(dir, 'disks', 'data.img'));
  const note = prepare[type]!(image);
  const gz = gzipSync(image, { level: 9 });
  const out = join(here, `${scenario.id}.img.gz`);
  writeFileSync(out, gz);
  console.log(`${out}: ${gz.length} bytes gzipped, from ${result.kernelRelease} in ${((Date.now() - t) / 1000).toFixed(0)} s (${dir})${note}`);
}
