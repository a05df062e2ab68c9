//! API-level tests: the built binary against a scripted API server on loopback, no cluster.
//!
//! This layer reaches what a real cluster cannot produce on demand: a 409 at the exact moment of
//! the write, a watch cut in the middle of an event line, a 410 Gone, a 503 with Retry-After, a
//! legacy framework field that KServe's webhook would have converted. Each test scripts the
//! answers (`stub`), runs the plugin (`plugin`), and asserts the exit code, the key words of the
//! message AND the requests the plugin sent (method, path, query, content type, body).
//!
//! - `stub`: the scripted HTTP/1.1 server (rules, replies, chunked watches, request log)
//! - `objects`: InferenceServices in the states of kserve-facts.md §4.5, pods, Status errors, events
//! - `plugin`: the kubeconfig and the run of the binary, bounded in time
//! - `writes`: conflicts and retries, the legacy model field, a no-op that sends nothing
//! - `expect_revision`: `--expect-revision` as a JSON Patch with `test` ops, and its 422
//! - `waits`: `--wait` through watch ends, cuts, 410 Gone, deletion, someone else's write
//! - `errors`: 503 with Retry-After, 500
//! - `faults`: a lost answer to a write, a resent write finding its own change, the retry
//!   policy (at most 3, Retry-After capped, never past --request-timeout), an expectation on a
//!   no-op, names checked before any request
//! - `status`: the InferenceService table read in pages (limit/continue) and printed as they
//!   arrive, the same as from one page; `-o json|yaml` item by item
//! - `corpus`: bad input kept as data (percents, flags, names, kubeconfigs, server answers), each
//!   with its exit code, one error line, no panic, no raw escape, no write

#[path = "../e2e/proc.rs"]
mod proc;

mod objects;
mod plugin;
mod stub;

mod corpus;
mod errors;
mod expect_revision;
mod faults;
mod rollout;
mod standard;
mod status;
mod waits;
mod writes;
