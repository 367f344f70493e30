/** Inline style and script of report.html: the file must open anywhere, offline, as a single file. */

export const VERDICT_COLOURS: Record<string, { bg: string; fg: string }> = {
  pass: { bg: '#2e7d32', fg: '#ffffff' },
  fail: { bg: '#c62828', fg: '#ffffff' },
  crash: { bg: '#6a1b9a', fg: '#ffffff' },
  hang: { bg: '#ef6c00', fg: '#ffffff' },
  error: { bg: '#455a64', fg: '#ffffff' },
  skip: { bg: '#bdbdbd', fg: '#212121' },
};

export const STYLE = `
:root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 14px; color: #212121; }
body { margin: 0; padding: 1rem 1.5rem; background: #fafafa; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
.meta { color: #555; margin: 0 0 .6rem; }
.counts span, .badge { display: inline-block; padding: .1rem .5rem; border-radius: .25rem; margin-right: .3rem; font-weight: 600; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #eeeeee; }
.grid td { padding: 0; text-align: center; min-width: 9rem; }
.grid td a { display: block; padding: .5rem .6rem; color: inherit; text-decoration: none; font-weight: 600; }
.grid td a small { display: block; font-weight: 400; opacity: .85; }
.grid td.none { background: repeating-linear-gradient(45deg, #f5f5f5, #f5f5f5 6px, #e0e0e0 6px, #e0e0e0 12px); color: #757575; }
.grid td.flaky a { outline: 3px dashed #fdd835; outline-offset: -5px; }
.grid td.regression a { outline: 4px solid #000000; outline-offset: -4px; }
.grid a[aria-current] { box-shadow: inset 0 0 0 3px #ffffff, inset 0 0 0 6px #1565c0; }
.grid th.scenario { font-family: ui-monospace, monospace; font-weight: 400; }
.grid th small { display: block; font-weight: 400; color: #616161; }
.list li { margin: .15rem 0; }
.detail { display: none; position: fixed; top: 0; right: 0; bottom: 0; width: min(56rem, 64vw); overflow: auto;
  background: #ffffff; box-shadow: -4px 0 16px rgba(0,0,0,.25); padding: 1rem 1.5rem; box-sizing: border-box; }
.detail:target { display: block; }
.detail .close { float: right; font-size: 1.4rem; text-decoration: none; color: #424242; }
.detail dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
.detail dt { color: #616161; }
.detail dd { margin: 0; overflow-wrap: anywhere; }
pre { background: #263238; color: #eceff1; padding: .6rem .8rem; overflow: auto; max-height: 32rem; font-size: 12px; line-height: 1.35; margin: .3rem 0; }
pre mark { background: #ffeb3b; color: #000000; }
code { font-family: ui-monospace, monospace; font-size: 12px; }
.steps td.cmds div { font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.steps .bad { color: #c62828; font-weight: 600; }
.muted { color: #757575; }
`;

/**
 * Cells open without script (CSS :target). The script only marks the open cell in the grid, closes on
 * Escape, and exposes what is open as <html data-open> so a headless browser can check it.
 */
export const SCRIPT = `
(function () {
  function sync() {
    var id = decodeURIComponent(location.hash.slice(1));
    var cur = document.querySelectorAll('.grid a[aria-current]');
    for (var i = 0; i < cur.length; i++) cur[i].removeAttribute('aria-current');
    var el = id ? document.getElementById(id) : null;
    var open = '';
    if (el && el.classList.contains('detail') && getComputedStyle(el).display !== 'none' && el.offsetHeight > 0) {
      open = id;
      var link = document.querySelector('.grid a[href="#' + id + '"]');
      if (link) link.setAttribute('aria-current', 'true');
    }
    document.documentElement.setAttribute('data-open', open);
  }
  addEventListener('hashchange', sync);
  // Browsers apply :target only once the document has loaded.
  addEventListener('load', sync);
  addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && location.hash) { history.pushState('', document.title, location.pathname + location.search); sync(); }
  });
  sync();
})();
`;
