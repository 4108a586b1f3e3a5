// Valibot issues as one line each: the field path and what was expected — for request bodies and the config.
import * as v from "valibot";
import { badRequest } from "../errors.ts";

export interface IssueWords {
  /** The path of an issue about the whole input. */
  root: string;
  /** `lines.3.ts` → `lines[3].ts` (request bodies); the config keeps dots, as its keys are written. */
  indexBrackets: boolean;
  /** The message for a key the schema does not know. */
  unknown: (path: string) => string;
  /** The message for a required key that is missing. */
  missing: string;
}

export function describeIssue(
  issue: v.BaseIssue<unknown>,
  words: IssueWords,
): { path: string; message: string } {
  const dot = v.getDotPath(issue);
  const path =
    dot === null ? words.root : words.indexBrackets ? dot.replace(/\.(\d+)(?=\.|$)/g, "[$1]") : dot;
  const message =
    issue.expected === "never"
      ? words.unknown(path)
      : issue.type === "strict_object" && issue.received === "undefined"
        ? words.missing
        : issue.message.replace(
            /^Invalid (?:type|key): Expected (.*) but received (.*)$/,
            "expected $1 (got $2)",
          );
  return { path, message };
}

/** A request body's issues as one line: the first one's field path and message, and how many more there are. */
export function describeBody(issues: [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): string {
  const { path, message } = describeIssue(issues[0], {
    root: "body",
    indexBrackets: true,
    unknown: () => "unknown field",
    missing: "required field is missing",
  });
  const more =
    issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
  return `${path}: ${message}${more}`;
}

/** `input` checked against `schema`: its output, or a 400 (`code`) naming the first issue's field. */
export function parse<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  code = "invalid_body",
): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (!r.success) throw badRequest(describeBody(r.issues), code);
  return r.output;
}
