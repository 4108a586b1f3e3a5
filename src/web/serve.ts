// The log viewer as Bun.serve routes: one page for the jobs list and every job, bundled with its assets.
import page from "./index.html";

export const webRoutes = { "/": page, "/jobs/*": page };
