import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatJsonHist,
  formatLinearHist,
  formatLog2Hist,
  type HistEntry,
  jsonHist,
  printJsonHist,
  printLinearHist,
  printLog2Hist,
  pyRepr,
  stars,
} from "../../src/maps/histogram.js";

// Expected strings below were worked out from bcc's src/python/bcc/table.py
// (_print_log2_hist, _print_linear_hist, _get_json_hist, _stars).

const lines = (...ls: string[]): string => ls.map((l) => `${l}\n`).join("");

const slots = (pairs: Array<[number, number | bigint]>): HistEntry[] =>
  pairs.map(([key, value]) => ({ key, value }));

const SMALL = slots([
  [1, 3],
  [2, 0],
  [3, 12],
  [4, 40],
  [5, 25],
  [6, 7],
  [7, 1],
  [9, 2],
  [10, 1],
]);

const FIXED = (): Date => new Date(2024, 2, 5, 7, 8, 9);

describe("formatLog2Hist", () => {
  it("prints a small histogram like bcc", () => {
    assert.equal(
      formatLog2Hist(SMALL, "kbytes"),
      lines(
        "     kbytes              : count     distribution",
        "         0 -> 1          : 3        |***                                     |",
        "         2 -> 3          : 0        |                                        |",
        "         4 -> 7          : 12       |************                            |",
        "         8 -> 15         : 40       |****************************************|",
        "        16 -> 31         : 25       |*************************               |",
        "        32 -> 63         : 7        |*******                                 |",
        "        64 -> 127        : 1        |*                                       |",
        "       128 -> 255        : 0        |                                        |",
        "       256 -> 511        : 2        |**                                      |",
        "       512 -> 1023       : 1        |*                                       |",
      ),
    );
  });

  it("defaults val_type to 'value' and ignores entry order", () => {
    const out = formatLog2Hist([...SMALL].reverse());
    assert.ok(out.startsWith("     value               : count     distribution\n"));
    assert.equal(out.split("\n").slice(1).join("\n"), formatLog2Hist(SMALL).split("\n").slice(1).join("\n"));
  });

  it("never prints slot 0 but scales the stars by its count", () => {
    const entries = slots([
      [0, 100],
      [1, 50],
      [2, 10],
    ]);
    assert.equal(
      formatLog2Hist(entries),
      lines(
        "     value               : count     distribution",
        "         0 -> 1          : 50       |********************                    |",
        "         2 -> 3          : 10       |****                                    |",
      ),
    );
    assert.equal(formatLog2Hist(slots([[0, 100]])), "", "no header when only slot 0 is set");
  });

  it("prints nothing for an empty or all-zero histogram", () => {
    assert.equal(formatLog2Hist([], "kbytes"), "");
    assert.equal(formatLog2Hist(slots([[3, 0]]), "kbytes"), "");
  });

  it("switches to the wide layout when the top slot is above 32", () => {
    const out = formatLog2Hist(
      slots([
        [1, 1],
        [20, 5],
        [33, 10],
        [40, 3],
        [64, 2],
      ]),
      "nsecs",
    ).split("\n");
    assert.equal(out.length, 66, "header + 64 rows + trailing empty string");
    assert.equal(out[0], "               nsecs                         : count     distribution");
    assert.equal(out[1], "                   0 -> 1                    : 1        |**                  |");
    assert.equal(out[20], "              524288 -> 1048575              : 5        |**********          |");
    assert.equal(out[33], "          4294967296 -> 8589934591           : 10       |********************|");
    assert.equal(out[40], "        549755813888 -> 1099511627775        : 3        |******              |");
    assert.equal(out[64], " 9223372036854775808 -> 18446744073709551615 : 2        |****                |");
    assert.equal(out[65], "");
    // slot 32 still uses the narrow layout
    assert.equal(
      formatLog2Hist(slots([[32, 1]]), "nsecs").split("\n")[0],
      "     nsecs               : count     distribution",
    );
  });

  it("stripLeadingZero drops only the zero rows before the first count", () => {
    const entries = slots([
      [5, 4],
      [6, 0],
      [7, 8],
      [9, 1],
    ]);
    assert.equal(
      formatLog2Hist(entries, "usecs", { stripLeadingZero: true }),
      lines(
        "     usecs               : count     distribution",
        "        16 -> 31         : 4        |********************                    |",
        "        32 -> 63         : 0        |                                        |",
        "        64 -> 127        : 8        |****************************************|",
        "       128 -> 255        : 0        |                                        |",
        "       256 -> 511        : 1        |*****                                   |",
      ),
    );
    assert.equal(
      formatLog2Hist(entries, "usecs"),
      lines(
        "     usecs               : count     distribution",
        "         0 -> 1          : 0        |                                        |",
        "         2 -> 3          : 0        |                                        |",
        "         4 -> 7          : 0        |                                        |",
        "         8 -> 15         : 0        |                                        |",
        "        16 -> 31         : 4        |********************                    |",
        "        32 -> 63         : 0        |                                        |",
        "        64 -> 127        : 8        |****************************************|",
        "       128 -> 255        : 0        |                                        |",
        "       256 -> 511        : 1        |*****                                   |",
      ),
    );
    assert.equal(
      formatLog2Hist(
        slots([
          [30, 4],
          [31, 0],
          [33, 9],
        ]),
        "nsecs",
        { stripLeadingZero: true },
      ),
      lines(
        "               nsecs                         : count     distribution",
        "           536870912 -> 1073741823           : 4        |********            |",
        "          1073741824 -> 2147483647           : 0        |                    |",
        "          2147483648 -> 4294967295           : 0        |                    |",
        "          4294967296 -> 8589934591           : 9        |********************|",
      ),
    );
  });

  it("handles bigint counts exactly, with Python's float rounding of the bar", () => {
    const entries = slots([
      [1, 2n ** 64n - 1n],
      [2, 2n ** 63n],
      [3, 2n ** 64n - 2n],
      [4, 12345678901234567n],
    ]);
    assert.equal(
      formatLog2Hist(entries, "bytes"),
      lines(
        "     bytes               : count     distribution",
        "         0 -> 1          : 18446744073709551615 |****************************************|",
        "         2 -> 3          : 9223372036854775808 |********************                    |",
        // 40 * (2^64 - 2) / (2^64 - 1) rounds to 40.0 as a double: a full bar, as in bcc
        "         4 -> 7          : 18446744073709551614 |****************************************|",
        "         8 -> 15         : 12345678901234567 |                                        |",
      ),
    );
    // number and bigint counts print the same
    assert.equal(formatLog2Hist(slots([[3, 7n]])), formatLog2Hist(slots([[3, 7]])));
    assert.equal(formatLog2Hist([{ key: 3n, value: 7 }]), formatLog2Hist(slots([[3, 7]])));
  });

  it("prints one histogram per section with bcc's %r section header", () => {
    const disks = (name: (s: string) => unknown): HistEntry[] => [
      { key: { disk: name("sda"), slot: 3 }, value: 10 },
      { key: { disk: name("nvme0n1"), slot: 1 }, value: 2 },
      { key: { disk: name("sda"), slot: 4 }, value: 20 },
      { key: { disk: name("nvme0n1"), slot: 2 }, value: 8 },
    ];
    const body = lines(
      "     usecs               : count     distribution",
      "         0 -> 1          : 0        |                                        |",
      "         2 -> 3          : 0        |                                        |",
      "         4 -> 7          : 10       |********************                    |",
      "         8 -> 15         : 20       |****************************************|",
    );
    const nvme = lines(
      "     usecs               : count     distribution",
      "         0 -> 1          : 2        |**********                              |",
      "         2 -> 3          : 8        |****************************************|",
    );
    // first-appearance order, Python repr of str
    assert.equal(
      formatLog2Hist(
        disks((s) => s),
        "usecs",
        { sectionHeader: "disk" },
      ),
      `\ndisk = 'sda'\n${body}\ndisk = 'nvme0n1'\n${nvme}`,
    );
    // char arrays as bytes print like ctypes' bytes
    assert.equal(
      formatLog2Hist(
        disks((s) => Buffer.from(s)),
        "usecs",
        { sectionHeader: "disk" },
      ),
      `\ndisk = b'sda'\n${body}\ndisk = b'nvme0n1'\n${nvme}`,
    );
    // sectionPrintFn + bcc-style bucket_sort_fn (list -> list)
    assert.equal(
      formatLog2Hist(
        disks((s) => s),
        "usecs",
        {
          sectionHeader: "disk",
          sectionPrintFn: (s) => String(s).toUpperCase(),
          bucketSortFn: (l) => [...l].sort(),
        },
      ),
      `\ndisk = NVME0N1\n${nvme}\ndisk = SDA\n${body}`,
    );
    // comparator form
    assert.equal(
      formatLog2Hist(
        disks((s) => s),
        "usecs",
        { sectionHeader: "disk", bucketSort: (a, b) => String(a).localeCompare(String(b)) },
      ),
      `\ndisk = 'nvme0n1'\n${nvme}\ndisk = 'sda'\n${body}`,
    );
    // default section header
    assert.ok(formatLog2Hist(disks((s) => s)).startsWith("\nBucket ptr = 'sda'\n     value   "));
  });

  it("supports bucket_fn tuples, section_print_fn and stripLeadingZero together", () => {
    // bcc's tests/python/test_histogram.py test_multiple_key, with fixed data
    const entries: HistEntry[] = [
      { key: { s_key: { key_1: 1, key_2: 2 }, slot: 1 }, value: 5 },
      { key: { s_key: { key_1: 0, key_2: 7 }, slot: 2 }, value: 6 },
      { key: { s_key: { key_1: 1, key_2: 2 }, slot: 3 }, value: 1 },
    ];
    const out = formatLog2Hist(entries, "size", {
      sectionHeader: "k_1 & k_2",
      sectionPrintFn: (b) => {
        const [k1, k2] = b as [number, number];
        return `${String(k1).padStart(3)} ${k2}`;
      },
      bucketFn: (s) => {
        const { key_1, key_2 } = s as { key_1: number; key_2: number };
        return [key_1, key_2];
      },
      stripLeadingZero: true,
      bucketSortFn: (l) => [...l].sort((a, b) => pyRepr(a).localeCompare(pyRepr(b))),
    });
    assert.equal(
      out,
      "\nk_1 & k_2 =   0 7\n" +
        lines(
          "     size                : count     distribution",
          "         2 -> 3          : 6        |****************************************|",
        ) +
        "\nk_1 & k_2 =   1 2\n" +
        lines(
          "     size                : count     distribution",
          "         0 -> 1          : 5        |****************************************|",
          "         2 -> 3          : 0        |                                        |",
          "         4 -> 7          : 1        |********                                |",
        ),
    );
  });

  it("reproduces bcc's overwrite (not sum) when bucketFn merges sections", () => {
    const entries: HistEntry[] = [
      { key: { id: 1, slot: 1 }, value: 5 },
      { key: { id: 2, slot: 1 }, value: 7 },
      { key: { id: 3, slot: 1 }, value: 2 },
    ];
    assert.equal(
      formatLog2Hist(entries, "v", { bucketFn: (b) => Number(b) % 2 }),
      "\nBucket ptr = 1\n" +
        lines(
          "     v                   : count     distribution",
          "         0 -> 1          : 2        |****************************************|",
        ) +
        "\nBucket ptr = 0\n" +
        lines(
          "     v                   : count     distribution",
          "         0 -> 1          : 7        |****************************************|",
        ),
    );
  });

  it("prints the section header even when the section has no printable rows", () => {
    assert.equal(
      formatLog2Hist([{ key: { name: Buffer.from("a"), slot: 0 }, value: 5 }], "v"),
      "\nBucket ptr = b'a'\n",
    );
  });

  it("follows bcc's positional key fields and splitKey", () => {
    // no `slot` field: first field is the section, second the slot (skipping __pad_1)
    const positional = formatLog2Hist([{ key: { pid: 42, __pad_1: 0, bucket: 2 }, value: 3 }], "v");
    assert.equal(
      positional,
      "\nBucket ptr = 42\n" +
        lines(
          "     v                   : count     distribution",
          "         0 -> 1          : 0        |                                        |",
          "         2 -> 3          : 3        |****************************************|",
        ),
    );
    const split = formatLog2Hist([{ key: 2, value: 3 }], "v", { splitKey: () => [42, 2] });
    assert.equal(split, positional);
  });

  it("rejects out-of-range slots and non-integer counts", () => {
    assert.throws(() => formatLog2Hist(slots([[65, 1]])), RangeError);
    assert.throws(() => formatLog2Hist(slots([[-1, 1]])), RangeError);
    assert.throws(() => formatLog2Hist(slots([[1, 1.5]])), TypeError);
    assert.throws(() => formatLinearHist(slots([[1025, 1]])), /exceeds max of 1025/);
  });
});

describe("formatLinearHist", () => {
  const GAPS = slots([
    [2, 5],
    [3, 0],
    [5, 20],
    [8, 1],
  ]);

  it("prints every slot from 0 to the highest non-zero one", () => {
    assert.equal(
      formatLinearHist(GAPS, "percent"),
      lines(
        "     percent       : count     distribution",
        "        0          : 0        |                                        |",
        "        1          : 0        |                                        |",
        "        2          : 5        |**********                              |",
        "        3          : 0        |                                        |",
        "        4          : 0        |                                        |",
        "        5          : 20       |****************************************|",
        "        6          : 0        |                                        |",
        "        7          : 0        |                                        |",
        "        8          : 1        |**                                      |",
      ),
    );
  });

  it("honours stripLeadingZero", () => {
    assert.equal(
      formatLinearHist(GAPS, "percent", { stripLeadingZero: true }),
      lines(
        "     percent       : count     distribution",
        "        2          : 5        |**********                              |",
        "        3          : 0        |                                        |",
        "        4          : 0        |                                        |",
        "        5          : 20       |****************************************|",
        "        6          : 0        |                                        |",
        "        7          : 0        |                                        |",
        "        8          : 1        |**                                      |",
      ),
    );
  });

  it("prints sections and nothing for an empty histogram", () => {
    assert.equal(
      formatLinearHist(
        [
          { key: { pid: 7, slot: 0 }, value: 1 },
          { key: { pid: 3, slot: 1 }, value: 2n },
        ],
        "value",
        { sectionHeader: "pid" },
      ),
      "\npid = 7\n" +
        lines(
          "     value         : count     distribution",
          "        0          : 1        |****************************************|",
        ) +
        "\npid = 3\n" +
        lines(
          "     value         : count     distribution",
          "        0          : 0        |                                        |",
          "        1          : 2        |****************************************|",
        ),
    );
    assert.equal(formatLinearHist([]), "");
    assert.equal(
      formatLinearHist(slots([[0, 4]])),
      lines(
        "     value         : count     distribution",
        "        0          : 4        |****************************************|",
      ),
      "linear shows slot 0",
    );
  });
});

describe("JSON histograms", () => {
  it("prints Python's repr of bcc's record, with an injected clock", () => {
    assert.equal(
      formatJsonHist(SMALL, "kbytes", { now: FIXED }),
      "{'ts': '2024-03-05 07:08:09', 'val_type': 'kbytes', 'data': [" +
        "{'interval-start': 0, 'interval-end': 1, 'count': 3}, " +
        "{'interval-start': 2, 'interval-end': 3, 'count': 0}, " +
        "{'interval-start': 4, 'interval-end': 7, 'count': 12}, " +
        "{'interval-start': 8, 'interval-end': 15, 'count': 40}, " +
        "{'interval-start': 16, 'interval-end': 31, 'count': 25}, " +
        "{'interval-start': 32, 'interval-end': 63, 'count': 7}, " +
        "{'interval-start': 64, 'interval-end': 127, 'count': 1}, " +
        "{'interval-start': 128, 'interval-end': 255, 'count': 0}, " +
        "{'interval-start': 256, 'interval-end': 511, 'count': 2}, " +
        "{'interval-start': 512, 'interval-end': 1023, 'count': 1}]}\n",
    );
  });

  it("prints one record for an empty plain histogram, none for an empty sectioned one", () => {
    assert.equal(
      formatJsonHist([], "value", { now: FIXED }),
      "{'ts': '2024-03-05 07:08:09', 'val_type': 'value', 'data': []}\n",
    );
    assert.equal(formatJsonHist([], "value", { now: FIXED, sectioned: true }), "");
  });

  it("adds the section under the section header", () => {
    const entries: HistEntry[] = [
      { key: { disk: "sda", slot: 1 }, value: 3 },
      { key: { disk: "sdb", slot: 2 }, value: 4 },
    ];
    assert.equal(
      formatJsonHist(entries, "usecs", { now: FIXED, sectionHeader: "disk" }),
      "{'ts': '2024-03-05 07:08:09', 'val_type': 'usecs', 'data': " +
        "[{'interval-start': 0, 'interval-end': 1, 'count': 3}], 'disk': 'sda'}\n" +
        "{'ts': '2024-03-05 07:08:09', 'val_type': 'usecs', 'data': " +
        "[{'interval-start': 0, 'interval-end': 1, 'count': 0}, " +
        "{'interval-start': 2, 'interval-end': 3, 'count': 4}], 'disk': 'sdb'}\n",
    );
    assert.deepEqual(jsonHist(entries, "usecs", { now: FIXED, sectionHeader: "disk" }), [
      {
        ts: "2024-03-05 07:08:09",
        val_type: "usecs",
        data: [{ "interval-start": 0, "interval-end": 1, count: 3 }],
        disk: "sda",
      },
      {
        ts: "2024-03-05 07:08:09",
        val_type: "usecs",
        data: [
          { "interval-start": 0, "interval-end": 1, count: 0 },
          { "interval-start": 2, "interval-end": 3, count: 4 },
        ],
        disk: "sdb",
      },
    ]);
    assert.match(
      formatJsonHist(entries, "usecs", { now: FIXED, sectionPrintFn: (s) => `/dev/${String(s)}` }),
      /, 'Bucket ptr': '\/dev\/sda'\}\n/,
    );
  });

  it("keeps 64-bit intervals and counts exact", () => {
    const [rec] = jsonHist(slots([[64, 2n ** 64n - 1n]]), "ns", { now: FIXED });
    assert.ok(rec);
    assert.equal(rec.data.length, 64);
    assert.deepEqual(rec.data[63], {
      "interval-start": 9223372036854775808n,
      "interval-end": 18446744073709551615n,
      count: 18446744073709551615n,
    });
    assert.deepEqual(rec.data[52], {
      "interval-start": 4503599627370496,
      "interval-end": 9007199254740991,
      count: 0,
    });
    assert.ok(
      formatJsonHist(slots([[64, 2n ** 64n - 1n]]), "ns", { now: FIXED }).endsWith(
        "{'interval-start': 9223372036854775808, 'interval-end': 18446744073709551615, " +
          "'count': 18446744073709551615}]}\n",
      ),
    );
  });

  it("can print json.dumps-style JSON instead", () => {
    const entries: HistEntry[] = [
      { key: { disk: "sda", slot: 1 }, value: 3 },
      { key: { disk: "sda", slot: 3 }, value: 5 },
    ];
    assert.equal(
      formatJsonHist(entries, "us\u00e9", { now: FIXED, sectionHeader: "disk", style: "json" }),
      '{"ts": "2024-03-05 07:08:09", "val_type": "us\\u00e9", "data": [' +
        '{"interval-start": 0, "interval-end": 1, "count": 3}, ' +
        '{"interval-start": 2, "interval-end": 3, "count": 0}, ' +
        '{"interval-start": 4, "interval-end": 7, "count": 5}], "disk": "sda"}\n',
    );
  });
});

describe("stars and pyRepr", () => {
  it("matches bcc's _stars, including the unreachable '+' marker", () => {
    assert.equal(stars(7, 7, 40), "*".repeat(40));
    assert.equal(stars(1, 3, 40), "*".repeat(13));
    assert.equal(stars(2, 3, 40), "*".repeat(26));
    assert.equal(stars(0, 3, 10), "");
    assert.equal(stars(5, 3, 10), `${"*".repeat(9)}+`);
    assert.equal(stars(2n ** 60n - 1n, 2n ** 60n, 40), "*".repeat(40), "Python float rounding");
    assert.throws(() => stars(1, 0, 40), RangeError);
  });

  it("renders values like Python's repr", () => {
    assert.equal(pyRepr("it's"), `"it's"`);
    assert.equal(pyRepr("a'b\"c"), `'a\\'b"c'`);
    assert.equal(pyRepr("tab\there\x01\x7f\u00e9\u2028"), "'tab\\there\\x01\\x7f\u00e9\\u2028'");
    assert.equal(pyRepr(Buffer.from([0x73, 0x64, 0x27, 0x61, 0x00, 0xff, 0x5c])), `b"sd'a\\x00\\xff\\\\"`);
    assert.equal(pyRepr([1]), "(1,)");
    assert.equal(pyRepr([1, 2]), "(1, 2)");
    assert.equal(pyRepr([]), "()");
    assert.equal(pyRepr([1, Buffer.from("x")]), "(1, b'x')");
    assert.equal(pyRepr(1e-5), "1e-05");
    assert.equal(pyRepr(0.5), "0.5");
    assert.equal(pyRepr(123.25), "123.25");
    assert.equal(pyRepr(null), "None");
    assert.equal(pyRepr(2n ** 64n), "18446744073709551616");
    assert.equal(pyRepr(1e21), "1000000000000000000000");
  });
});

describe("print functions", () => {
  it("write the formatted text to opts.write", () => {
    const out: string[] = [];
    const write = (t: string): void => {
      out.push(t);
    };
    printLog2Hist(SMALL, "kbytes", { write });
    printLinearHist(slots([[1, 1]]), "n", { write });
    printJsonHist(SMALL, "kbytes", { write, now: FIXED });
    assert.deepEqual(out, [
      formatLog2Hist(SMALL, "kbytes"),
      formatLinearHist(slots([[1, 1]]), "n"),
      formatJsonHist(SMALL, "kbytes", { now: FIXED }),
    ]);
  });

  it("write to process.stdout by default", () => {
    const original = process.stdout.write;
    const captured: string[] = [];
    process.stdout.write = ((chunk: string | Uint8Array): boolean => {
      captured.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      printLog2Hist(slots([[2, 1]]), "x");
    } finally {
      process.stdout.write = original;
    }
    assert.deepEqual(captured, [
      lines(
        "     x                   : count     distribution",
        "         0 -> 1          : 0        |                                        |",
        "         2 -> 3          : 1        |****************************************|",
      ),
    ]);
  });
});
