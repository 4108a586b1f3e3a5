// The jobs page (/): recent jobs, filtered by status, workspace and task, found by id, refreshed while they run.
import { enc, getJson, isTerminal, type Job } from "./api.ts";
import { signOut } from "./auth.ts";
import { h } from "./dom.ts";
import { bytes, count, dateTime, duration } from "./format.ts";

const STATUSES = ["", "pending", "running", "completed", "failed", "cancelled", "skipped"];

export function jobsPage(root: HTMLElement): void {
  const params = new URLSearchParams(location.search);
  const status = h(
    "select",
    { name: "status", "aria-label": "status" },
    ...STATUSES.map((s) => h("option", { value: s }, s === "" ? "any status" : s)),
  );
  status.value = params.get("status") ?? "";
  const workspace = h("input", { name: "workspace", placeholder: "workspace", "aria-label": "workspace" });
  workspace.value = params.get("workspace") ?? "";
  const task = h("input", { name: "task", placeholder: "task", "aria-label": "task" });
  task.value = params.get("task") ?? "";
  const find = h("input", { name: "id", placeholder: "job id", "aria-label": "job id" });
  const body = h("tbody");
  const note = h("p", { class: "muted", "aria-live": "polite" });

  const filters = h(
    "form",
    { class: "filters" },
    status,
    workspace,
    task,
    h("button", { type: "submit" }, "filter"),
  );
  const finder = h("form", { class: "finder" }, find, h("button", { type: "submit" }, "open"));
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  status.addEventListener("change", apply);
  finder.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = find.value.trim();
    if (id !== "") location.href = `/jobs/${enc(id)}`;
  });

  root.replaceChildren(
    h(
      "header",
      { class: "top" },
      h("a", { href: "/", class: "brand" }, "stroem-logs"),
      h("span", { class: "crumb" }, " / jobs"),
      signOut(),
    ),
    h("div", { class: "jobs-bar" }, filters, finder),
    h(
      "table",
      { class: "jobs" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["job", "status", "workspace / task", "started", "duration", "lines", "size", "archive"].map(
            (c) => h("th", {}, c),
          ),
        ),
      ),
      body,
    ),
    note,
  );

  function apply(): void {
    const q = new URLSearchParams();
    if (status.value !== "") q.set("status", status.value);
    if (workspace.value.trim() !== "") q.set("workspace", workspace.value.trim());
    if (task.value.trim() !== "") q.set("task", task.value.trim());
    history.replaceState(null, "", `/${q.size > 0 ? `?${q}` : ""}`);
    void load();
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  let seq = 0;
  async function load(): Promise<void> {
    clearTimeout(timer);
    const mine = ++seq;
    const q = new URLSearchParams(location.search);
    q.set("limit", "200");
    try {
      const { jobs } = await getJson<{ jobs: Job[] }>(`/api/jobs?${q}`);
      if (mine !== seq) return;
      body.replaceChildren(...jobs.map(row));
      note.textContent = jobs.length === 0 ? "no job matches" : `${count(jobs.length)} most recent jobs`;
      // Refreshed while something runs; a settled list is checked now and then for new jobs.
      timer = setTimeout(() => void load(), jobs.some((j) => !isTerminal(j.status)) ? 2000 : 10_000);
    } catch (e) {
      if (mine !== seq) return;
      note.textContent = `cannot list jobs: ${(e as Error).message}`;
      timer = setTimeout(() => void load(), 5000);
    }
  }
  void load();
}

function row(j: Job): HTMLElement {
  const end = j.finished_at === null ? Date.now() : Date.parse(j.finished_at);
  const a = j.archive;
  return h(
    "tr",
    { "data-id": j.id },
    h("td", {}, h("a", { href: `/jobs/${enc(j.id)}` }, j.id)),
    h("td", {}, h("span", { class: `badge ${j.status}` }, j.status)),
    h("td", {}, `${j.workspace} / ${j.task}`),
    h("td", {}, dateTime(j.created_at, true)),
    h("td", {}, duration(end - Date.parse(j.created_at))),
    h("td", { class: "num" }, count(j.lines)),
    h("td", { class: "num" }, bytes(j.bytes)),
    h(
      "td",
      {},
      a === undefined || a === null ? "—" : h("span", { class: `archive ${a.state}`, title: a.key }, a.state),
    ),
  );
}
