// A push decode worker that fails on its first task (test/support/failing-decode.ts).
import { failAfter } from "./failing-decode.ts";

failAfter(0);
