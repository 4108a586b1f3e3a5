// The masking bench's data: 100 seeded secrets of 20–64 characters and 20,000 lines of which 1 in 200 leaks one.

// A seeded generator: every run measures the same lines and secrets.
let seed = 0x5eed;
const rand = () => {
  seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
  return ((seed ^ (seed >>> 13)) >>> 0) / 2 ** 32;
};
export const int = (n: number) => Math.floor(rand() * n);
const TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const text = (n: number, alphabet = TOKEN) =>
  Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join("");

/** 100 secrets of 20–64 characters; some with the characters that make URL and JSON forms differ. */
export const SECRETS = Array.from({ length: 100 }, (_, i) =>
  i % 10 === 0 ? `${text(10)}/+${text(6 + (i % 40))}=` : text(20 + int(45)),
);

const WORDS = [
  "compiling",
  "linking",
  "warning:",
  "test",
  "ok",
  "downloading",
  "src/app/module",
  "GET",
  "200",
];
/** Build output, structured JSON logs, URLs with queries, base64 blobs, stack frames; 1 in 200 leaks a secret. */
function lineOf(i: number): string {
  const w = () => WORDS[int(WORDS.length)]!;
  switch (i % 5) {
    case 0:
      return `[${i}] ${w()} ${w()}_${i % 997} ${text(10 + int(40), "abcdefghijklmnopqrstuvwxyz ")}`;
    case 1:
      return JSON.stringify({
        level: "info",
        ts: 1739357805123 + i,
        msg: `${w()} ${w()}`,
        req: i,
        ms: int(900),
      });
    case 2:
      return `${w()} https://api.example.com/v1/items/${i}?page=${int(50)}&sort=desc&q=${text(8)} ${int(999)}ms`;
    case 3:
      return `payload=${Buffer.from(text(30 + int(30), `${TOKEN} {}":,`)).toString("base64")}`;
    default:
      return `    at ${w()}Handler (/srv/app/src/${w()}.ts:${int(400)}:${int(80)})`;
  }
}
export const LINES = Array.from({ length: 20_000 }, (_, i) =>
  i % 200 === 7 ? `${lineOf(i)} token=${SECRETS[int(SECRETS.length)]}` : lineOf(i),
);
