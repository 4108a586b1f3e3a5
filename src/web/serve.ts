// The log viewer as Bun.serve routes: one page for the jobs list and every job, bundled with its assets.
import page from "./index.html";

// GET and HEAD only: any other method on these paths falls through to the API, which answers it in JSON
// (a bare route would serve the page to TRACE / or POST /jobs/x). Bun serves an HTML bundle in a method
// object too, but its types allow a bundle only as a bare route value: hence the cast.
const read = { GET: page, HEAD: page } as unknown as Bun.HTMLBundle;

export const webRoutes = { "/": read, "/jobs/*": read };
