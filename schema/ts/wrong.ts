// Messages the contract rejects, each marked @ts-expect-error: the check
// fails if the declarations stop rejecting one of them. Written by hand.

import type * as dc from "../daemoncontract";

// A required member is missing.
// @ts-expect-error started_by_us is required
export const noOwner: dc.DaemonHandle = { daemon_name: "q", base_url: "http://x" };

// null for a required member.
// @ts-expect-error id must be a string
export const nullID: dc.StatusRequest = { id: null };

// A string where the wire has an integer.
// @ts-expect-error pid is a number
export const stringPID: dc.ShutdownConfig = { daemon_name: "h", pid: "4242" };

// A string where the wire has a boolean.
// @ts-expect-error is_running is a boolean
export const stringBool: dc.StatusResponse = { id: "w", is_running: "true" };

// null for graceful_timeout_secs: absent means 5, null is an error.
// @ts-expect-error graceful_timeout_secs may be absent, never null
export const nullTimeout: dc.ShutdownConfig = { daemon_name: "h", pid: 4242, graceful_timeout_secs: null };

// An array for a string.
// @ts-expect-error job_id is a string
export const arrayJobID: dc.InstallConfig = { binary_name: "rbee-hive", job_id: ["j"] };

// metadata is unknown, not any: a reader narrows it before using it.
declare const received: dc.StatusResponse;
// @ts-expect-error metadata is unknown until narrowed
export const port: number = received.metadata.port;

// A JavaScript value that is not JSON, as metadata a writer declares as
// JSONValue (metadata itself takes it: see interface.ts).
// @ts-expect-error a function is not a JSON value
export const functionMetadata: dc.JSONValue = () => 1;

// The serde array form, which the contract rejects.
// @ts-expect-error a message is an object
export const arrayForm: dc.StatusRequest = ["w1", "job"];

// A misspelled member in a message this program writes (an object literal):
// TypeScript's excess property check catches it, while a received message
// may carry unknown members.
// @ts-expect-error pidd is not a member
export const misspelled: dc.ShutdownConfig = { daemon_name: "h", pid: 4242, pidd: 1 };

// And the same messages, corrected, are accepted.
export const owner: dc.DaemonHandle = { daemon_name: "q", started_by_us: false, base_url: "http://x" };
export const timeout: dc.ShutdownConfig = { daemon_name: "h", pid: 4242 };
export const metadata: dc.StatusResponse = { id: "w", is_running: true, metadata: { port: 7835, models: ["a"], ok: null } };
