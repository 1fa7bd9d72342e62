// Package apicheck guards the exported API of daemoncontract: its test
// compares the API with the baseline committed in api/daemoncontract.txt, so
// that an incompatible change is a decision rather than an accident. It lives
// in a package of its own so that it still runs when a change to the API
// breaks the compilation of the package's other tests.
//
// Run it with make apicheck; after a deliberate change, make apibaseline
// rewrites the baseline.
package apicheck
