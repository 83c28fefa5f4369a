/** Engine-level checks of the URL grammar and the SQL builder (no server, no database). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RestError } from "../../packages/stack/src/rest/errors.ts";
import {
  parseLogic,
  parseOperation,
  parseOrder,
  parsePrefer,
  parseSelect,
} from "../../packages/stack/src/rest/parse.ts";
import type { SchemaCache, Table } from "../../packages/stack/src/rest/schema-cache.ts";
import { buildReadStatement, type NodeParams } from "../../packages/stack/src/rest/sql.ts";

const rooms: Table = {
  schema: "public",
  name: "rooms",
  kind: "r",
  columns: new Map(
    ["id", "name", "data"].map((name) => [
      name,
      { name, type: "text", nullable: true, hasDefault: false, generated: false, default: null },
    ]),
  ),
  primaryKey: ["id"],
  uniques: [["id"]],
  computed: new Map(),
};
const cache: SchemaCache = {
  tables: new Map([["roomkit.rooms", rooms]]),
  foreignKeys: [],
  functions: new Map(),
  roleSettings: new Map(),
};

describe("select grammar", () => {
  it("when a select has aliases, casts, JSON paths, embeds with hints and spreads, then each item is recognised", () => {
    expect(
      parseSelect("id,n:name::text,c:data->a->>b,owner:profiles!created_by!inner(id),...x(y),m(count)"),
    ).toEqual([
      { kind: "field", field: { name: "id", jsonPath: [] } },
      { kind: "field", field: { name: "name", jsonPath: [] }, alias: "n", cast: "text" },
      {
        kind: "field",
        field: {
          name: "data",
          jsonPath: [
            { arrow: "->", key: "a" },
            { arrow: "->>", key: "b" },
          ],
        },
        alias: "c",
      },
      {
        kind: "embed",
        relation: "profiles",
        alias: "owner",
        hint: "created_by",
        joinType: "inner",
        spread: false,
        select: [{ kind: "field", field: { name: "id", jsonPath: [] } }],
      },
      {
        kind: "embed",
        relation: "x",
        spread: true,
        select: [{ kind: "field", field: { name: "y", jsonPath: [] } }],
      },
      {
        kind: "embed",
        relation: "m",
        spread: false,
        select: [{ kind: "field", field: { name: "count", jsonPath: [] } }],
      },
    ]);
  });

  it("when an aggregate is selected, then 400 PGRST123 as with aggregates disabled", () => {
    expect(() => parseSelect("count()")).toThrowError(
      expect.objectContaining({ code: "PGRST123", status: 400 }),
    );
    expect(() => parseSelect("id.sum()")).toThrowError(expect.objectContaining({ code: "PGRST123" }));
  });

  it("when a cast is not a plain type name, then it is refused", () => {
    expect(() => parseSelect("id::text);drop")).toThrowError(RestError);
  });
});

describe("filters and order", () => {
  it("when operators carry not, quantifiers, lists and fts configs, then they parse", () => {
    expect(parseOperation('not.in.(1,"a,b",c)')).toEqual({
      negated: true,
      operation: { op: "in", values: ["1", "a,b", "c"] },
    });
    expect(parseOperation("like(any).{a*,b*}")).toEqual({
      negated: false,
      operation: { op: "like", quantifier: "any", value: "{a*,b*}" },
    });
    expect(parseOperation("fts(english).cat")).toEqual({
      negated: false,
      operation: { op: "fts", config: "english", value: "cat" },
    });
    expect(parseOperation("is.NULL")).toEqual({ negated: false, operation: { op: "is", value: "null" } });
    expect(parseOperation("eq.null")).toEqual({ negated: false, operation: { op: "eq", value: "null" } });
    expect(() => parseOperation("zz.1")).toThrowError(expect.objectContaining({ code: "PGRST100" }));
  });

  it("when or/and trees nest, then the tree keeps their structure and quoted values", () => {
    const tree = parseLogic("or", false, '(a.eq.1,and(b.gt.2,not.or(c.eq."x,y",d.is.null)))');
    expect(tree.children).toHaveLength(2);
    const and = tree.children[1]!;
    expect(and).toMatchObject({ kind: "logic", operator: "and" });
    expect(and.kind === "logic" && and.children[1]).toMatchObject({
      kind: "logic",
      operator: "or",
      negated: true,
    });
    expect(JSON.stringify(tree)).toContain('"value":"x,y"');
  });

  it("when ordering, then direction, nulls and embedded targets are recognised", () => {
    expect(parseOrder("a.desc.nullslast,b,profiles(name).asc")).toEqual([
      { field: { name: "a", jsonPath: [] }, direction: "desc", nulls: "last" },
      { field: { name: "b", jsonPath: [] } },
      { relation: "profiles", field: { name: "name", jsonPath: [] }, direction: "asc" },
    ]);
  });

  it("when Prefer values repeat, then the first of each group wins and unknown ones are kept aside", () => {
    expect(parsePrefer(["count=exact, return=representation", "return=minimal, foo=bar"])).toEqual({
      count: "exact",
      return: "representation",
      invalid: ["foo=bar"],
    });
  });
});

describe("SQL building", () => {
  it("when any value is filtered on, then it travels as a bind parameter and never as SQL text", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.constantFrom("eq", "neq", "like", "ilike", "gt"),
        (value, op) => {
          const marker = `ZQ${value}`;
          const node: NodeParams = {
            conditions: [
              {
                kind: "filter",
                field: { name: "name", jsonPath: [] },
                negated: false,
                operation: { op, value: marker } as never,
              },
            ],
          };
          const statement = buildReadStatement(cache, new Map([["", node]]), {
            schema: "public",
            fromSql: '"public"."rooms"',
            source: { name: "rooms", table: rooms, columns: [] },
            select: [{ kind: "star" }],
            rootConditions: true,
            limit: 10,
            exactCount: true,
          });
          expect(statement.sql).not.toContain("ZQ");
          expect(statement.params.some((p) => p?.startsWith("ZQ"))).toBe(true);
        },
      ),
    );
  });

  it("when a column is unknown, then 42703 names it as Postgres would", () => {
    expect(() =>
      buildReadStatement(cache, new Map(), {
        schema: "public",
        fromSql: '"public"."rooms"',
        source: { name: "rooms", table: rooms, columns: [] },
        select: parseSelect("id,nope"),
        rootConditions: true,
        exactCount: false,
      }),
    ).toThrowError(expect.objectContaining({ code: "42703" }));
  });
});
