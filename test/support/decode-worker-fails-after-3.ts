// A push decode worker that answers three tasks, then fails (test/support/failing-decode.ts).
import { failAfter } from "./failing-decode.ts";

failAfter(3);
