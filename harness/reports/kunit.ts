import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheDir, fillCacheDir } from '../../vm/cache.ts';

const SOURCE = '/usr/src/linux-source-6.1.tar.xz';

/** The kernel's own KTAP parser (tools/testing/kunit/kunit_parser.py), unpacked once into the cache. */
export async function kunitParserDir(): Promise<string | undefined> {
  const dir = cacheDir('kunit-parser-6.1');
  if (existsSync(join(dir, 'kunit_parser.py'))) return dir;
  if (!existsSync(SOURCE)) return undefined;
  await fillCacheDir(dir, async (tmp) => {
    const files = ['kunit_parser.py', 'kunit_printer.py'].map((f) => `linux-source-6.1/tools/testing/kunit/${f}`);
    await execa('tar', ['-xf', SOURCE, '-C', tmp, '--strip-components=4', ...files]);
  });
  return dir;
}

const KUNIT_PARSE = `
import sys, json
sys.path.insert(0, sys.argv[1])
import kunit_parser
t = kunit_parser.parse_run_tests(open(sys.argv[2]).read().splitlines())
print("IHJSON " + json.dumps({"status": t.status.name, "errors": t.counts.errors, "tests": [[s.name, s.status.name] for s in t.subtests]}))
`;

export async function parseWithKunit(parserDir: string, file: string): Promise<{ status: string; errors: number; tests: string[][] }> {
  const r = await execa('python3', ['-c', KUNIT_PARSE, parserDir, file]);
  return JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('IHJSON '))!.slice(7));
}

