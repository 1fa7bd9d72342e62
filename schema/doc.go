// Package schema checks the contract's JSON Schema, daemoncontract.schema.json
// in this directory, with a validator nobody here wrote:
// github.com/santhosh-tekuri/jsonschema/v6, which passes the official
// JSON-Schema-Test-Suite. It is a module of its own, so that the root module
// keeps testify as its only dependency. It holds tests only; the schema and
// the TypeScript declarations beside it are generated in the root module, by
// make schema.
//
//   - Every message the contract's decoder accepts (every conformance case,
//     every golden message, and, in FuzzSchema, every input) validates
//     against its type's definition.
//   - Every message the decoder rejects fails the schema too, unless its
//     reason is one that JSON Schema cannot express; the test pins the exact
//     list of those, so that a new one is noticed.
//
// Run it with make schemacheck.
package schema
