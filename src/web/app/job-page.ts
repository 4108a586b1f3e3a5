// The job page (/jobs/{id}): header, steps, the log pane (virtual list, live follow, search, line links),
// the Server Events panel and the downloads.
import { ApiError, enc, getJson, isTerminal, type Job, readLines } from "./api.ts";
import { signOut } from "./auth.ts";
import { h } from "./dom.ts";
import { download } from "./download.ts";
import { type Follower, type FollowState, follow } from "./follow.ts";
import { bytes, count, dateTime, duration } from "./format.ts";
import { lineFromHash } from "./links.ts";
import { SERVER_STEP, toViewLine, type ViewLine } from "./logline.ts";
import { afterFrame, MIN_GAP, redrawGap } from "./pace.ts";
import { placeholderRow, renderRow } from "./row.ts";
import { lowerBound, markRanges, SearchRun } from "./search.ts";
import { type StepSummary as IndexSummary, StepIndex } from "./stepindex.ts";
import { stepView, type View, wholeView } from "./views.ts";
import { VList } from "./vlist.ts";

interface StepInfo extends IndexSummary {
  first: number;
  last: number;
  stdout: number;
  stderr: number;
}

interface StepsAnswer {
  source: string;
  lines: number;
  steps: StepInfo[];
  last_step: string | null;
}

type TimeMode = "off" | "utc" | "local";

const PREFS_KEY = "stroem-logs.prefs";

interface Prefs {
  time: TimeMode;
  wrap: boolean;
}

function loadPrefs(): Prefs {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) ?? "{}") as Partial<Prefs>;
    return { time: p.time ?? "utc", wrap: p.wrap ?? false };
  } catch {
    return { time: "utc", wrap: false };
  }
}

export function jobPage(root: HTMLElement, jobId: string): void {
  // The requests go out before the page is built (that costs a first layout): the job, and the first rows
  // beside it — the window at a #L line, else both the top (a finished job opens there) and the end (a
  // running one does); whichever is not shown is cheap.
  const jobAnswer = getJson<Job>(`/api/jobs/${enc(jobId)}`);
  jobAnswer.catch(() => {}); // handled where it is awaited
  const hashLine = lineFromHash(location.hash);
  const readWindow = (query: string) => readLines(`/api/jobs/${enc(jobId)}/logs?${query}`).catch(() => null); // asked again when shown
  const windows =
    hashLine !== null
      ? [readWindow(`from=${Math.max(0, Math.floor((hashLine - 64) / 256) * 256)}&limit=512`)]
      : [readWindow("from=0&limit=256"), readWindow("tail=512")];
  const prefs = loadPrefs();
  const params = new URLSearchParams(location.search);
  let job: Job | null = null;
  let summary: StepsAnswer | null = null;
  const indexes = new Map<string, StepIndex>();
  /** Live lines that arrived before the summary: (line, step), applied to the indexes once it comes. */
  let early: Array<[number, string]> | null = [];
  let total = 0;
  let following = false;
  let follower: Follower | null = null;
  let conn: FollowState | null = null;
  let search: SearchRun | null = null;
  let current = -1; // index into search.matches
  let target: number | null = hashLine;
  let liveLast: string | null = null; // the step of the last line received live
  let version = 0; // bumped when every row must re-render (display options, search)
  const events: ViewLine[] = [];

  // ---- layout
  const status = h("span", { class: "badge" });
  const headInfo = h("div", { class: "head-info" });
  const stepsList = h("nav", { class: "steps", "aria-label": "steps" });
  const searchInput = h("input", {
    type: "search",
    placeholder: "Search the whole log  ( / )",
    "aria-label": "search",
    class: "search-input",
  });
  const reBox = h("input", { type: "checkbox", "aria-label": "regular expression" });
  const caseBox = h("input", { type: "checkbox", "aria-label": "ignore case" });
  const searchCount = h("span", { class: "search-count", "aria-live": "polite" });
  const prevBtn = h("button", { type: "button", title: "previous match (N)", onclick: () => step(-1) }, "‹");
  const nextBtn = h("button", { type: "button", title: "next match (n)", onclick: () => step(1) }, "›");
  const followBtn = h("button", {
    type: "button",
    class: "follow",
    title: "follow the end (f)",
    onclick: () => toggleFollow(),
  });
  const connLabel = h("span", { class: "conn", "aria-live": "polite" });
  const timeSel = h(
    "select",
    { "aria-label": "timestamps", title: "timestamps" },
    h("option", { value: "off" }, "no time"),
    h("option", { value: "utc" }, "UTC"),
    h("option", { value: "local" }, "local"),
  );
  timeSel.value = prefs.time;
  const wrapBox = h("input", { type: "checkbox", "aria-label": "wrap lines" });
  wrapBox.checked = prefs.wrap;
  const dlJsonl = h(
    "button",
    { type: "button", title: "download as JSONL", onclick: () => void doDownload("jsonl") },
    "JSONL",
  );
  const dlText = h(
    "button",
    { type: "button", title: "download as plain text", onclick: () => void doDownload("text") },
    "text",
  );
  const eventsList = h("div", { class: "events-list" });
  const eventsTitle = h("h2", {}, "Server Events");
  const eventsPanel = h("section", { class: "events", hidden: true }, eventsTitle, eventsList);
  const toast = h("div", { class: "toast", role: "status" });
  const logPane = h("div", { class: "log-pane" });
  const viewTitle = h("span", { class: "view-title" });

  const searchForm = h(
    "form",
    { class: "search", role: "search" },
    searchInput,
    h("label", { title: "regular expression" }, reBox, ".*"),
    h("label", { title: "ignore case" }, caseBox, "Aa"),
    prevBtn,
    nextBtn,
    searchCount,
  );
  searchForm.addEventListener("submit", (e) => {
    e.preventDefault();
    startSearch();
  });

  root.replaceChildren(
    h(
      "header",
      { class: "top" },
      h("a", { href: "/", class: "brand" }, "stroem-logs"),
      h("span", { class: "crumb" }, " / ", h("a", { href: "/" }, "jobs"), " / ", h("b", {}, jobId)),
      signOut(),
    ),
    h("section", { class: "job-head" }, status, headInfo),
    h(
      "div",
      { class: "job-body" },
      stepsList,
      h(
        "main",
        { class: "log-area" },
        h(
          "div",
          { class: "toolbar" },
          viewTitle,
          searchForm,
          h("span", { class: "spacer" }),
          followBtn,
          connLabel,
          timeSel,
          h("label", { title: "wrap long lines" }, wrapBox, "wrap"),
          h("span", { class: "dl" }, "⤓", dlJsonl, dlText),
        ),
        logPane,
        eventsPanel,
      ),
    ),
    toast,
  );

  // ---- the views
  const whole = wholeView(
    jobId,
    () => total,
    () => list.invalidate(),
  );
  let view: View = whole;

  const rowOptions = () => ({
    jobId,
    showTime: timeSel.value !== "off",
    utc: timeSel.value === "utc",
    showStep: view.step === null,
    highlight: search === null ? null : markRanges(search.query),
    maxChars: 20_000,
  });
  let opts = rowOptions();

  const matchClass = (n: number): string => {
    let c = "";
    if (search !== null) {
      const i = lowerBound(search.matches, n);
      if (search.matches[i] === n) c += i === current ? " match current" : " match";
    }
    if (n === target) c += " target";
    return c;
  };

  const list = new VList({
    count: () => view.count(),
    keyOf(k) {
      const line = view.pages.get(k);
      return line === undefined ? `p${version}` : `${version}${matchClass(line.n)}`;
    },
    render(k, reuse) {
      const line = view.pages.get(k);
      if (line === undefined) return placeholderRow(k, view.lineOf(k), view.pages.errorAt(k));
      return renderRow(line, opts, matchClass(line.n), reuse);
    },
    onRange(from, to) {
      view.pages.ensure(Math.max(0, from - 32), to + 32, view.count());
    },
    onUserScroll(atBottom) {
      if (following !== atBottom && isLive()) {
        following = atBottom;
        showFollow();
      }
    },
  });
  logPane.append(list.el);
  list.measure();
  list.el.setAttribute("aria-label", "log");

  function restyle(): void {
    version++;
    opts = rowOptions();
    list.restyle();
  }

  timeSel.addEventListener("change", () => {
    savePrefs();
    restyle();
  });
  wrapBox.addEventListener("change", () => {
    savePrefs();
    logPane.classList.toggle("wrap", wrapBox.checked);
    list.fixedHeight = !wrapBox.checked;
    restyle();
  });
  logPane.classList.toggle("wrap", wrapBox.checked);
  list.fixedHeight = !wrapBox.checked;
  function savePrefs(): void {
    localStorage.setItem(PREFS_KEY, JSON.stringify({ time: timeSel.value, wrap: wrapBox.checked }));
  }

  // Line links: a click on a number copies the line's link and marks the line.
  list.el.addEventListener("click", (e) => {
    const a = (e.target as HTMLElement).closest("a.ln") as HTMLAnchorElement | null;
    if (a === null) return;
    e.preventDefault();
    const row = a.closest(".row") as HTMLElement;
    const n = Number(row.dataset.n);
    const url = `${location.origin}/jobs/${enc(jobId)}${view.step === null ? "" : `?step=${enc(view.step)}`}#L${n + 1}`;
    history.replaceState(null, "", url);
    target = n;
    restyle();
    void copy(url).then((ok) => say(ok ? `link to line ${count(n + 1)} copied` : url));
  });
  window.addEventListener("hashchange", () => {
    const n = lineFromHash(location.hash);
    if (n !== null) jumpTo(n, true);
  });

  // ---- following
  const isLive = () => follower !== null && conn !== null && conn.kind !== "ended" && conn.kind !== "stopped";

  function toggleFollow(): void {
    if (!isLive() && !following) {
      // Nothing is coming: "follow" goes to the end.
      list.toBottom();
      return;
    }
    following = !following;
    if (following) list.toBottom();
    else list.stick = false;
    showFollow();
  }

  function showFollow(): void {
    followBtn.textContent = following ? "❚❚ pause" : "▶ follow";
    followBtn.classList.toggle("on", following);
    const c = conn;
    let text = "";
    let cls = "";
    if (c === null) text = job !== null && isTerminal(job.status) ? "" : "";
    else if (c.kind === "live") {
      text = "● live";
      cls = "live";
    } else if (c.kind === "connecting") text = "connecting…";
    else if (c.kind === "retrying") {
      text = `${c.why}: reconnecting in ${(c.inMs / 1000).toFixed(1)} s (attempt ${c.attempt})`;
      cls = "down";
    } else if (c.kind === "ended") text = `ended: job ${c.status}`;
    else {
      text = c.why;
      cls = "down";
    }
    connLabel.textContent = text;
    connLabel.className = `conn ${cls}`;
    followBtn.hidden = !isLive() && !following;
  }

  let renderQueued = false;
  let lastFrame = 0;
  let lastHead = 0;
  let gap = MIN_GAP;
  function onLines(first: number, raws: string[]): void {
    for (let i = 0; i < raws.length; i++) {
      const line = toViewLine(first + i, raws[i]!);
      whole.live(line);
      if (early !== null) early.push([line.n, line.step]);
      else indexFor(line.step)?.live(line.n);
      if (view.step !== null && line.step === view.step) view.live(line);
      if (line.step === SERVER_STEP) addEvent(line);
      else liveLast = line.step;
      search?.live(line.n, line.text, line.step);
    }
    total = Math.max(total, first + raws.length);
    if (renderQueued) return;
    renderQueued = true;
    // Lines arriving fast are drawn in batches, one redraw per gap (redrawGap: what the last redraw cost, so on
    // a busy machine the page does not spend its whole time drawing rows nobody can read at that speed).
    const wait = Math.max(0, gap - (performance.now() - lastFrame));
    setTimeout(() => {
      requestAnimationFrame(() => {
        renderQueued = false;
        lastFrame = performance.now();
        if (following) list.toBottom();
        else list.invalidate();
        if (lastFrame - lastHead > 500) {
          lastHead = lastFrame;
          showSteps();
          showJob();
        }
        // The redraw's cost: from the start of this frame's callback to the end of its paint.
        const started = lastFrame;
        afterFrame(() => {
          gap = redrawGap(performance.now() - started);
        });
      });
    }, wait);
  }

  /** The index of a step seen live; a step new since the summary gets one. */
  function indexFor(step: string): StepIndex | null {
    if (summary === null) return null;
    let index = indexes.get(step);
    if (index === undefined) {
      index = new StepIndex(step, { name: step, lines: 0, runs: [], runs_complete: true }, summary.lines);
      indexes.set(step, index);
    }
    return index;
  }

  function startFollow(from: number): void {
    following = target === null;
    follower = follow({
      jobId,
      from,
      onLines,
      onState(s) {
        conn = s;
        if (s.kind === "ended") void refreshJob();
        showFollow();
      },
    });
  }

  // ---- search
  function startSearch(): void {
    const text = searchInput.value;
    search?.stop();
    search = null;
    current = -1;
    if (text === "") {
      searchCount.textContent = "";
      restyle();
      return;
    }
    let jumped = false;
    const top = view.lineOf(list.firstRow) ?? 0;
    const run = new SearchRun(
      jobId,
      { text, regex: reBox.checked, icase: caseBox.checked },
      view.step,
      () => {
        if (search !== run) return;
        // The first match at or after the view (else the first of all, once the scan is over) is shown.
        if (!jumped && run.matches.length > 0) {
          const i = lowerBound(run.matches, top);
          if (i < run.matches.length || run.done) {
            jumped = true;
            current = i < run.matches.length ? i : 0;
            jumpTo(run.matches[current]!, false);
          }
        }
        showCount();
        version++;
        opts = rowOptions();
        list.invalidate();
      },
    );
    search = run;
    showCount();
    restyle();
  }

  function showCount(): void {
    const s = search;
    if (s === null) {
      searchCount.textContent = "";
      return;
    }
    const n = s.matches.length;
    const where = current >= 0 ? `${count(current + 1)} of ` : "";
    if (s.error !== null) searchCount.textContent = `search failed: ${s.error}`;
    else if (!s.done) {
      const pct = total > 0 ? Math.min(99, Math.floor((s.scanned / total) * 100)) : 0;
      searchCount.textContent = `${where}${count(n)}${n > 0 ? "+" : ""} matches… (${pct}% searched)`;
    } else if (s.capped)
      searchCount.textContent = `${where}${count(n)}+ matches (stopped: refine the search)`;
    else searchCount.textContent = n === 0 ? "no match" : `${where}${count(n)} match${n === 1 ? "" : "es"}`;
    searchCount.classList.toggle("none", s.done && n === 0);
  }

  function step(d: number): void {
    const s = search;
    if (s === null || s.matches.length === 0) return;
    current = (current + d + s.matches.length) % s.matches.length;
    jumpTo(s.matches[current]!, false);
    showCount();
  }

  // ---- jumps
  function jumpTo(n: number, mark: boolean): void {
    if (mark) target = n;
    if (following) {
      following = false;
      showFollow();
    }
    const k = view.rowAtOrAfter(n);
    if (k === null) {
      // A step whose rows past the summary's runs are not placed yet: place them, then jump.
      const shown = view;
      void shown.locate(n).then(
        () => view === shown && shown.rowAtOrAfter(n) !== null && jumpTo(n, mark),
        (e: Error) => say(`cannot place line ${count(n + 1)} in this step: ${e.message}`),
      );
      return;
    }
    if (view.step !== null && view.lineOf(k) !== n && mark) {
      // A link to a line of another step: show it in the whole log.
      switchView(null, n);
      return;
    }
    version++;
    list.scrollToRow(k);
    list.el.focus({ preventScroll: true });
  }

  // ---- steps
  function switchView(stepName: string | null, at: number | null = null): void {
    const index = stepName === null ? null : (indexes.get(stepName) ?? null);
    if (stepName !== null && index === null) return;
    view = index === null ? whole : stepView(jobId, index, () => list.invalidate());
    const url = new URL(location.href);
    if (stepName === null) url.searchParams.delete("step");
    else url.searchParams.set("step", stepName);
    history.replaceState(null, "", url);
    viewTitle.textContent = stepName === null ? "whole log" : `step ${stepName}`;
    showSteps();
    if (search !== null) startSearch();
    restyle();
    if (at !== null) jumpTo(at, false);
    else if (following) list.toBottom();
    else list.scrollToRow(0, "top");
  }

  function showSteps(): void {
    const rows: HTMLElement[] = [];
    rows.push(
      h(
        "button",
        {
          type: "button",
          class: `step-row${view.step === null ? " on" : ""}`,
          onclick: () => switchView(null),
        },
        h("span", { class: "name" }, "All lines"),
        h("span", { class: "n" }, count(total)),
      ),
    );
    if (summary === null) rows.push(h("div", { class: "muted" }, "reading steps…"));
    else {
      const running = job !== null && !isTerminal(job.status) ? lastStep() : null;
      for (const [name, index] of indexes) {
        if (name === SERVER_STEP) continue;
        const info = summary.steps.find((s) => s.name === name);
        rows.push(
          h(
            "button",
            {
              type: "button",
              class: `step-row${view.step === name ? " on" : ""}${name === running ? " running" : ""}`,
              onclick: () => switchView(name),
              title: info ? `lines ${count(info.first + 1)}–${count(info.last + 1)}` : name,
            },
            h("span", { class: "name" }, name),
            name === running ? h("span", { class: "spin", title: "running" }, "●") : null,
            info && info.stderr > 0
              ? h("span", { class: "err", title: "stderr lines" }, count(info.stderr))
              : null,
            h("span", { class: "n" }, count(index.count)),
          ),
        );
      }
      if (summary.source === "legacy") rows.push(h("div", { class: "muted" }, "plain-text log: no steps"));
    }
    stepsList.replaceChildren(...rows);
  }

  function lastStep(): string | null {
    return liveLast ?? summary?.last_step ?? null;
  }

  async function loadSteps(): Promise<void> {
    try {
      summary = await getJson<StepsAnswer>(`/api/jobs/${enc(jobId)}/steps`);
    } catch (e) {
      stepsList.replaceChildren(h("div", { class: "muted" }, `steps unavailable: ${(e as Error).message}`));
      return;
    }
    for (const s of summary.steps) indexes.set(s.name, new StepIndex(s.name, s, summary.lines));
    for (const [n, stepName] of early ?? []) indexFor(stepName)?.live(n);
    early = null;
    total = Math.max(total, summary.lines);
    showSteps();
    const server = summary.steps.find((s) => s.name === SERVER_STEP);
    if (server !== undefined) void loadEvents(server);
    const wanted = params.get("step");
    if (wanted !== null && indexes.has(wanted)) switchView(wanted, target);
  }

  // ---- server events
  function addEvent(line: ViewLine): void {
    if (events.length > 0 && line.n <= events[events.length - 1]!.n) return;
    events.push(line);
    if (events.length > 500) events.shift();
    showEvents();
  }

  function showEvents(): void {
    eventsPanel.hidden = events.length === 0;
    eventsTitle.textContent = `Server Events (${count(events.length)})`;
    eventsList.replaceChildren(
      ...events.map((l) =>
        h(
          "div",
          {
            class: "event",
            onclick: () => jumpTo(l.n, true),
            title: `line ${count(l.n + 1)}: show it in the log`,
          },
          h("span", { class: "ev-ts" }, dateTime(l.ts, timeSel.value !== "local")),
          h("span", { class: "ev-tx" }, l.text),
        ),
      ),
    );
  }

  /** The last events, read run by run through the whole log's cursor (they are few and far apart). */
  async function loadEvents(s: StepInfo): Promise<void> {
    const runs = s.runs.slice(-100);
    const got: ViewLine[] = [];
    for (const [a, b] of runs) {
      const from = Math.max(a, b - 200);
      const r = await readLines(`/api/jobs/${enc(jobId)}/logs?from=${from}&limit=${b - from}`);
      for (const [i, raw] of r.lines.entries()) got.push(toViewLine(from + i, raw));
    }
    const have = new Set(events.map((e) => e.n));
    for (const l of got) if (!have.has(l.n) && l.step === SERVER_STEP) events.push(l);
    events.sort((x, y) => x.n - y.n);
    showEvents();
  }

  // ---- header
  function showJob(): void {
    if (job === null) return;
    status.textContent = job.status;
    status.className = `badge ${job.status}`;
    const end = job.finished_at === null ? Date.now() : Date.parse(job.finished_at);
    const a = job.archive;
    const utc = timeSel.value !== "local";
    const parts: Array<HTMLElement | null> = [
      h("span", {}, h("b", {}, job.workspace), " / ", h("b", {}, job.task)),
      h("span", { title: "created" }, "started ", dateTime(job.created_at, utc)),
      job.finished_at !== null ? h("span", {}, "finished ", dateTime(job.finished_at, utc)) : null,
      h("span", { title: "duration" }, duration(end - Date.parse(job.created_at))),
      h("span", {}, `${count(Math.max(job.lines, total))} lines`),
      h("span", {}, bytes(job.bytes)),
      job.late_lines > 0
        ? h("span", { title: "lines pushed after the job ended" }, `${count(job.late_lines)} late`)
        : null,
      isTerminal(job.status)
        ? h("span", { title: "completion work (hooks)" }, job.settled ? "hooks done" : "hooks running…")
        : null,
      a === undefined || a === null
        ? h("span", { class: "muted" }, isTerminal(job.status) ? "not archived" : "")
        : h(
            "span",
            { class: `archive ${a.state}`, title: a.last_error ?? a.key },
            `archive: ${a.state}`,
            a.uploaded_at !== null ? ` ${dateTime(a.uploaded_at, utc)}` : "",
            " ",
            h("code", {}, a.key),
            a.local_deleted ? " (local copy removed)" : "",
          ),
      job.error !== null ? h("span", { class: "job-error" }, job.error) : null,
    ];
    headInfo.replaceChildren(...parts.filter((x) => x !== null));
    document.title = `${job.status} · ${jobId} · stroem-logs`;
  }

  async function refreshJob(): Promise<void> {
    try {
      job = await getJson<Job>(`/api/jobs/${enc(jobId)}`);
      total = Math.max(total, job.lines);
      showJob();
      showSteps();
    } catch {
      // the next poll tries again
    }
  }

  function poll(): void {
    const wait =
      job === null || !isTerminal(job.status) || !job.settled ? 2000 : job.archive?.uploaded_at ? 0 : 10_000;
    if (wait === 0) return;
    setTimeout(() => void refreshJob().then(poll), wait);
  }

  // ---- downloads, copying, toasts
  async function doDownload(format: "jsonl" | "text"): Promise<void> {
    const q = new URLSearchParams({ format });
    if (view.step !== null) q.set("step", view.step);
    say("download started");
    try {
      await download(`/api/jobs/${enc(jobId)}/logs/download?${q}`);
    } catch (e) {
      say(`download failed: ${(e as Error).message}`);
    }
  }

  let toastTimer: ReturnType<typeof setTimeout> | undefined;
  function say(text: string): void {
    toast.textContent = text;
    toast.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => toast.classList.remove("show"), 2500);
  }

  // ---- keyboard
  document.addEventListener("keydown", (e) => {
    const t = e.target as HTMLElement;
    if (
      t.tagName === "INPUT" ||
      t.tagName === "SELECT" ||
      t.tagName === "TEXTAREA" ||
      e.ctrlKey ||
      e.metaKey ||
      e.altKey
    ) {
      if (e.key === "Escape" && t === searchInput) list.el.focus();
      return;
    }
    const keys: Record<string, () => void> = {
      "/": () => searchInput.focus(),
      n: () => step(1),
      N: () => step(-1),
      g: () => {
        if (following) toggleFollow();
        list.scrollToRow(0, "top");
      },
      G: () => {
        if (isLive()) {
          following = true;
          showFollow();
        }
        list.toBottom();
      },
      f: () => toggleFollow(),
    };
    const fn = keys[e.key];
    if (fn === undefined) return;
    e.preventDefault();
    fn();
  });

  // ---- start
  showFollow();
  for (const w of windows) {
    void w.then((r) => {
      if (r === null) return;
      whole.pages.seed(
        r.from,
        r.lines.map((raw, i) => toViewLine(r.from + i, raw)),
      );
      list.invalidate();
    });
  }
  void (async () => {
    try {
      job = await jobAnswer;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        status.textContent = "unknown";
        headInfo.replaceChildren(h("span", { class: "muted" }, "no job registered with this id"));
      } else {
        headInfo.replaceChildren(h("span", { class: "job-error" }, (e as Error).message));
        return;
      }
    }
    total = job?.lines ?? 0;
    showJob();
    const running = job !== null && !isTerminal(job.status);
    if (target !== null) jumpTo(target, true);
    else if (running) list.toBottom();
    else list.invalidate();
    if (running) startFollow(total);
    showSteps();
    await loadSteps();
    const s = summary as StepsAnswer | null; // set by loadSteps
    if (job === null && s !== null) {
      total = s.lines;
      list.invalidate();
    }
    poll();
  })();
}

async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement("textarea");
    ta.value = text;
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    return ok;
  }
}
