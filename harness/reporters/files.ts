import { HtmlReporter } from './html.ts';
import { JunitReporter } from './junit.ts';
import { KtapReporter } from './ktap.ts';
import type { Reporter } from './reporter.ts';

/** Reporters that write report files into the run directory at the end (matrix and merge alike). */
export function fileReporters(): Reporter[] {
  return [new JunitReporter(), new KtapReporter(), new HtmlReporter()];
}
