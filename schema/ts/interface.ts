// Metadata typed through a TypeScript interface, as a TypeScript peer writes
// it. An interface has no implicit index signature, so the declarations must
// not ask metadata for one: metadata is unknown. Written by hand.

import type * as dc from "../daemoncontract";

/** What a hive reports about itself, as its own code declares it. */
interface HiveMetadata {
  port: number;
  version: string;
  models: string[];
}

const hive: HiveMetadata = { port: 7835, version: "0.1.0", models: ["llama-3-8b"] };

// A message built from it.
export const response: dc.StatusResponse = { id: "workstation", is_running: true, health_status: "200 OK", metadata: hive };

// The same through a variable of the message's type, member by member.
export function withMetadata(r: dc.StatusResponse, m: HiveMetadata): dc.StatusResponse {
  return { ...r, metadata: m };
}
